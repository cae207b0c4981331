import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { buildClientSchema, getIntrospectionQuery, lexicographicSortSchema, printSchema } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPOSITORY_ROOT } from '../../scripts/generated-files.js';
import { startTestServer, type TestServer } from '../support/server.js';

// schema.graphql is for teams that run codegen in their own repositories: it must be the schema the server
// serves, not just what schema/ says. Introspection carries descriptions and @specifiedBy, so the printed
// introspection result of a live server (both sorted by name) must equal the committed file.
let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server.close();
});

describe('schema.graphql', () => {
  it('is the SDL the running server serves, @specifiedBy of DateTime included', async () => {
    const { status, json } = await server.post({ query: getIntrospectionQuery({ specifiedByUrl: true, inputValueDeprecation: true }) });
    expect(status).toBe(200);
    const served = printSchema(lexicographicSortSchema(buildClientSchema(json.data))) + '\n';
    const committed = await readFile(path.join(REPOSITORY_ROOT, 'schema.graphql'), 'utf8');
    expect(committed).toContain('scalar DateTime @specifiedBy(url: "https://www.rfc-editor.org/rfc/rfc3339")');
    expect(served).toBe(committed);
  });
});
