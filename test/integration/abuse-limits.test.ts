import { getIntrospectionQuery } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DashboardDocument } from '../../src/__generated__/sdk/graphql.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { createTestTenant, type TestTenant } from '../support/tenants.js';

let server: TestServer;
let tenant: TestTenant;
beforeAll(async () => {
  server = await startTestServer({ limits: { maxDepth: 8, maxAliases: 5, maxTokens: 400, maxDirectives: 4, maxCost: 3000 } });
  tenant = await createTestTenant();
});
afterAll(async () => {
  await server.close();
});

const auth = () => ({ authorization: `Bearer ${tenant.admin.token}` });

/** A limit answers 400 with a code of its own, a message naming it (never "Syntax Error") and its value. */
function expectRejected(result: { status: number; json: any }, pattern: RegExp, code: string, extensions: Record<string, unknown>) {
  expect(result.status).toBe(400);
  expect(result.json.data).toBeUndefined();
  // Other validation errors of the same document may follow (a repeated `@include`): the limit's comes once.
  const limitErrors = result.json.errors.filter((error: any) => error.extensions.code === code);
  expect(limitErrors).toHaveLength(1);
  expect(limitErrors[0].message).toMatch(pattern);
  expect(result.json.errors.map((error: any) => error.message).join('\n')).not.toMatch(/Syntax Error/);
  expect(limitErrors[0].extensions).toMatchObject({ code, ...extensions });
}

describe('abuse limits', () => {
  it('accepts the dashboard query and full introspection', async () => {
    const dashboard = await server.client(tenant.admin.token).request(DashboardDocument, { first: 20, messages: 5 });
    expect(dashboard.errors).toBeUndefined();
    const introspection = await server.post({ query: getIntrospectionQuery() });
    expect(introspection.status).toBe(200);
    expect(introspection.json.data.__schema.queryType.name).toBe('Query');
  });

  it('rejects a query deeper than the depth limit, naming the limit', async () => {
    const deep = '{ conversations { nodes { messages { nodes { conversation { messages { nodes { author { id } } } } } } } } }';
    expectRejected(await server.post({ query: deep }, auth()), /depth limit of 8/, 'QUERY_TOO_DEEP', { limit: 'maxDepth', maxDepth: 8, found: 9 });
  });

  it('rejects more aliases than allowed', async () => {
    const aliases = Array.from({ length: 6 }, (_, i) => `a${i}: viewer { user { id } }`).join(' ');
    expectRejected(await server.post({ query: `{ ${aliases} }` }, auth()), /aliases limit of 5/, 'TOO_MANY_ALIASES', {
      limit: 'maxAliases',
      maxAliases: 5,
      found: 6,
    });
  });

  it('rejects documents with too many tokens', async () => {
    const fields = Array.from({ length: 500 }, () => '__typename').join(' ');
    expectRejected(await server.post({ query: `{ ${fields} }` }, auth()), /contains more than 400 tokens, the token limit/, 'TOO_MANY_TOKENS', {
      limit: 'maxTokens',
      maxTokens: 400,
    });
  });

  it('rejects too many directives', async () => {
    const directives = Array.from({ length: 5 }, () => '@include(if: true)').join(' ');
    expectRejected(await server.post({ query: `{ __typename ${directives} }` }, auth()), /directives limit of 4/, 'TOO_MANY_DIRECTIVES', {
      limit: 'maxDirectives',
      maxDirectives: 4,
      found: 5,
    });
  });

  it('rejects a query whose cost grows past the limit through nested page sizes, before any SQL', async () => {
    server.statements.length = 0;
    const query = '{ conversations(first: 100) { nodes { messages(first: 100) { nodes { id } } } } }';
    const result = await server.post({ query }, auth());
    expectRejected(result, /cost \d+ exceeds the limit of 3000/, 'QUERY_TOO_COSTLY', { limit: 'maxCost', maxCost: 3000 });
    expect(result.json.errors[0].extensions.found).toBeGreaterThan(3000);
    expect(result.json.errors[0].extensions.http).toBeUndefined();
    expect(server.statements).toEqual([]);
  });

  it('counts page sizes passed as variables', async () => {
    const query = 'query($n: Int) { conversations(first: $n) { nodes { messages(first: $n) { nodes { id } } } } }';
    const cheap = await server.post({ query, variables: { n: 5 } }, auth());
    const costly = await server.post({ query, variables: { n: 90 } }, auth());
    expect(cheap.json.errors).toBeUndefined();
    expect(costly.json.errors[0].message).toMatch(/exceeds the limit of 3000/);
  });
});
