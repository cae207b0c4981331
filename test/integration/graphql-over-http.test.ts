import { serverAudits } from 'graphql-http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.js';
import { createTestTenant, type TestTenant } from '../support/tenants.js';

// Issue 11 §3: the GraphQL-over-HTTP audit (graphql-http's serverAudits) keeps 0 MUST failures. Every audit
// runs against a live server with a valid token (its requests are real queries of the tenant); the SHOULD
// failures are recommendations and are printed, not failed on.
let server: TestServer;
let tenant: TestTenant;
beforeAll(async () => {
  server = await startTestServer();
  tenant = await createTestTenant();
});
afterAll(async () => {
  await server.close();
});

describe('GraphQL over HTTP (graphql-http serverAudits)', () => {
  it('passes every MUST audit', async () => {
    const fetchWithToken = (input: string | URL | Request, init: RequestInit = {}) => {
      const headers = new Headers(init.headers);
      headers.set('authorization', `Bearer ${tenant.admin.token}`);
      return fetch(input, { ...init, headers });
    };
    const audits = serverAudits({ url: server.url, fetchFn: fetchWithToken });
    expect(audits.length).toBeGreaterThan(30);
    const failures: { name: string; status: string; reason: string }[] = [];
    for (const audit of audits) {
      const result = await audit.fn();
      if (result.status !== 'ok') failures.push({ name: audit.name, status: result.status, reason: result.reason });
    }
    const should = failures.filter((failure) => failure.status !== 'error');
    if (should.length) {
      console.info(`graphql-http: ${should.length} SHOULD/MAY audits not met:\n${should.map((f) => `  ${f.name}: ${f.reason}`).join('\n')}`);
    }
    expect(failures.filter((failure) => failure.status === 'error').map((f) => `${f.name}: ${f.reason}`)).toEqual([]);
    // A MUST audit that failed is reported as 'error'; the audits' own naming agrees.
    expect(failures.filter((failure) => failure.name.startsWith('MUST'))).toEqual([]);
  });
});
