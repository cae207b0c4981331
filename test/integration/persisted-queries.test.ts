import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.js';
import { createTestTenant, type TestTenant } from '../support/tenants.js';

let server: TestServer;
let tenant: TestTenant;
beforeAll(async () => {
  server = await startTestServer({ production: true, introspection: false });
  tenant = await createTestTenant();
});
afterAll(async () => {
  await server.close();
});

const QUERY = 'query Registered { viewer { user { id } } }';
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const persisted = (hash: string, query?: string) => ({
  ...(query ? { query } : {}),
  extensions: { persistedQuery: { version: 1, sha256Hash: hash } },
});
const NOT_SUPPORTED = { errors: [{ message: 'PersistedQueryNotSupported', extensions: { code: 'PERSISTED_QUERY_NOT_SUPPORTED' } }] };

describe('automatic persisted queries', () => {
  it('are off: registering a query with a token is refused and runs nothing', async () => {
    server.statements.length = 0;
    const registered = await server.post(persisted(sha256(QUERY), QUERY), { authorization: `Bearer ${tenant.admin.token}` });
    expect(registered.json).toEqual(NOT_SUPPORTED);
    expect(server.statements).toEqual([]);
    const byHash = await server.post(persisted(sha256(QUERY)), { authorization: `Bearer ${tenant.admin.token}` });
    expect(byHash.json).toEqual(NOT_SUPPORTED);
  });

  it('answer a known and an unknown hash alike to a client without a token', async () => {
    // The known one was just sent with its query, as a client registering it would.
    await server.post(persisted(sha256(QUERY), QUERY), { authorization: `Bearer ${tenant.admin.token}` });
    const known = await server.post(persisted(sha256(QUERY)));
    const unknown = await server.post(persisted(sha256(`query Unknown${Date.now()} { viewer { user { id } } }`)));
    expect({ status: known.status, json: known.json }).toEqual({ status: unknown.status, json: unknown.json });
    expect(known.json).toEqual(NOT_SUPPORTED);
  });
});
