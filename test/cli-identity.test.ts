import { randomUUID } from 'node:crypto';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { runCliInProcess } from './support/processes.js';
import { startTestServer, TEST_JWT_SECRET, type TestServer } from './support/server.js';
import { createTestTenant } from './support/tenants.js';

const env = (extra: Record<string, string> = {}) => ({
  DATABASE_URL: inject('ownerUrl'),
  DATABASE_URL_APP: inject('appUrl'),
  JWT_SECRET: TEST_JWT_SECRET,
  ...extra,
});

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ jwt: { secret: TEST_JWT_SECRET, tenantClaim: 'org.id' } });
});
afterAll(async () => {
  await server.close();
});

const viewer = (token: string) => server.post({ query: '{ viewer { user { email } tenant { name } } }' }, { authorization: `Bearer ${token}` });

describe('cli tenant create --external-id --admin-subject', () => {
  it('creates the tenant with its identity provider names and mints a token that names them, which the server maps back', async () => {
    const org = `org_${randomUUID().slice(0, 8)}`;
    const subject = `auth0|${randomUUID()}`;
    const email = `idp-${randomUUID().slice(0, 8)}@example.test`;
    const created = await runCliInProcess(
      ['tenant', 'create', '--name', 'From the IdP', '--admin-email', email, '--external-id', org, '--admin-subject', subject],
      env({ JWT_TENANT_CLAIM: 'org.id' }),
    );
    expect(created.stderr).toBe('');
    const line = JSON.parse(created.stdout);
    expect(line.tenant).toMatchObject({ externalId: org, name: 'From the IdP' });
    expect(line.user).toMatchObject({ email, externalSubject: subject });
    expect(decodeJwt(line.token)).toMatchObject({ org: { id: org }, sub: subject });
    expect((await viewer(line.token)).json.data.viewer).toEqual({ user: { email }, tenant: { name: 'From the IdP' } });

    const minted = await runCliInProcess(['token', '--tenant', line.tenant.id, '--email', email], env({ JWT_TENANT_CLAIM: 'org.id' }));
    expect(decodeJwt(minted.stdout.trim())).toMatchObject({ org: { id: org }, sub: subject });
    expect((await viewer(minted.stdout.trim())).json.errors).toBeUndefined();

    const taken = await runCliInProcess(['tenant', 'create', '--name', 'Copycat', '--admin-email', 'c@example.test', '--external-id', org], env());
    expect(taken.status).toBe(1);
    expect(taken.stderr).toMatch(/External id "org_.*" belongs to another tenant already/);
  });

  it('sets and clears external ids and subjects of existing tenants and members', async () => {
    const tenant = await createTestTenant();
    const org = `org_${randomUUID().slice(0, 8)}`;
    const set = await runCliInProcess(['tenant', 'set-external-id', '--tenant', tenant.id, '--external-id', org], env());
    expect(JSON.parse(set.stdout).tenant).toMatchObject({ id: tenant.id, externalId: org });
    const subject = await runCliInProcess(
      ['tenant', 'set-subject', '--tenant', tenant.id, '--user', tenant.admin.id, '--subject', 'user_2abc'],
      env(),
    );
    expect(subject.status).toBe(0);
    const minted = await runCliInProcess(['token', '--tenant', tenant.id, '--user', tenant.admin.id], env({ JWT_TENANT_CLAIM: 'org.id' }));
    expect(decodeJwt(minted.stdout.trim())).toMatchObject({ org: { id: org }, sub: 'user_2abc' });
    expect((await viewer(minted.stdout.trim())).json.errors).toBeUndefined();

    const cleared = await runCliInProcess(['tenant', 'set-external-id', '--tenant', tenant.id, '--clear'], env());
    expect(JSON.parse(cleared.stdout).tenant.externalId).toBeNull();
    // The old name now names no tenant.
    expect((await viewer(minted.stdout.trim())).status).toBe(401);
  });

  it('refuses names the prologue could not carry, with the rule', async () => {
    const digits = await runCliInProcess(['tenant', 'create', '--name', 'N', '--admin-email', 'n@example.test', '--external-id', '12345'], env());
    expect(digits.status).toBe(2);
    expect(digits.stderr).toMatch(/--external-id must be .* not all digits/);
    const tenant = await createTestTenant();
    const quote = await runCliInProcess(['tenant', 'set-subject', '--tenant', tenant.id, '--user', tenant.admin.id, '--subject', "o'brien"], env());
    expect(quote.status).toBe(1);
    expect(quote.stderr).toMatch(/without spaces, quotes or backslashes/);
  });
});
