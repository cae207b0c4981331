import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.js';
import { createTestTenant, type TestTenant } from '../support/tenants.js';

let server: TestServer;
let tenant: TestTenant;
beforeAll(async () => {
  server = await startTestServer({ pool: { max: 1, acquireTimeoutMs: 300 } });
  tenant = await createTestTenant();
});
afterAll(async () => {
  await server.close();
});

describe('pool exhaustion', () => {
  it('answers 503 SERVICE_UNAVAILABLE after the bounded wait instead of queueing forever, then recovers', async () => {
    const held = await server.database.pool.connect();
    try {
      const result = await server.post({ query: '{ conversations { totalCount } }' }, { authorization: `Bearer ${tenant.admin.token}` });
      expect(result.status).toBe(503);
      expect(result.json.errors[0].extensions.code).toBe('SERVICE_UNAVAILABLE');
      expect(result.json.errors[0].message).toMatch(/busy/);
    } finally {
      held.release();
    }
    const after = await server.post({ query: '{ conversations { totalCount } }' }, { authorization: `Bearer ${tenant.admin.token}` });
    expect(after.status).toBe(200);
    expect(after.json.data.conversations.totalCount).toBe(0);
  });
});
