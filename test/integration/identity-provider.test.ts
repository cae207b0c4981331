import { randomUUID } from 'node:crypto';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { setTenantExternalId, setUserExternalSubject } from '../../src/admin/external-names.js';
import { resumeTenant, suspendTenant } from '../../src/admin/tenant-suspension.js';
import { withOwnerClient } from '../support/owner-db.js';
import { createAppDatabase } from '../../src/db/kysely.js';
import { createPool } from '../../src/db/pool.js';
import { planLimitsFromDatabase } from '../../src/tenancy/plan-limits.js';
import { startTestProvider, API_RESOURCE, type TestClient, type TestProvider } from '../support/oidc-provider.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { createTestTenant, type TestTenant } from '../support/tenants.js';

/**
 * Tokens of a real OpenID Provider (oidc-provider, client credentials grant with a resource indicator, JWT access
 * tokens) drive the real API: OpenID Connect discovery (no JWKS URL is configured), string organisation ids and
 * string subjects mapped to tenants and members inside the one prologue round trip, key rotation within the
 * documented bound.
 */
const JWKS_MAX_AGE_MS = 60_000;

let provider: TestProvider;
let clock = 0;
const now = () => Date.now() + clock;

/** An API server verifying the provider's tokens, with the tenant at `tenantClaim`. */
function apiFor(tenantClaim: string): Promise<TestServer> {
  return startTestServer({
    jwt: { issuer: provider.issuer, audience: API_RESOURCE, tenantClaim, jwksMaxAgeMs: JWKS_MAX_AGE_MS, jwksCooldownMs: 0, now },
  });
}

let tenant: TestTenant;
let member: TestClient;
const orgId = `org_${randomUUID().replaceAll('-', '').slice(0, 20)}`;

beforeAll(async () => {
  provider = await startTestProvider();
  provider.useKeys([await provider.newKey()]);
  tenant = await createTestTenant();
  await setTenantExternalId(inject('ownerUrl'), tenant.id, orgId);
  member = { clientId: `m2m_admin-${randomUUID()}`, clientSecret: randomUUID(), orgId };
  await setUserExternalSubject(inject('ownerUrl'), tenant.id, tenant.admin.id, member.clientId);
  provider.addClient(member);
});
afterAll(async () => {
  await provider.close();
});

async function viewer(server: TestServer, token: string) {
  return server.post({ query: '{ viewer { user { id email } tenant { id name } } }' }, { authorization: `Bearer ${token}` });
}

describe('tokens of a real OpenID Provider (nested tenant claim org.id)', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await apiFor('org.id');
  });
  afterAll(async () => {
    await server.close();
  });

  it('maps a string organisation id and a string subject to the tenant and member, found by discovery, in the one prologue round trip', async () => {
    const token = await provider.token(member);
    const claims = decodeJwt(token);
    expect(claims).toMatchObject({ sub: member.clientId, iss: provider.issuer, aud: API_RESOURCE, org: { id: orgId } });
    expect(claims).not.toHaveProperty('tenant_id');

    server.statements.length = 0;
    const result = await viewer(server, token);
    expect(result.json.errors).toBeUndefined();
    expect(result.json.data.viewer.user.email).toBe(tenant.admin.email);
    expect(result.json.data.viewer.tenant.name).toBe(tenant.name);
    // Discovery was used (no JWKS URL configured) and its jwks_uri fetched.
    expect(provider.requests).toContain('/.well-known/openid-configuration');
    expect(provider.requests).toContain('/jwks');
    // Exactly the statements of the same query with the CLI's own token (numeric tenant id, user UUID) on a
    // server with the shared secret: the external names are resolved inside the prologue, at no extra round trip.
    expect(server.statements[0]).toBe(`start transaction read only;select * from app.enter_tenant('${orgId}','${member.clientId}',5000,10000)`);
    const classic = await startTestServer();
    try {
      classic.statements.length = 0;
      expect((await viewer(classic, tenant.admin.token)).json.errors).toBeUndefined();
      expect(classic.statements[0]).toBe(
        `start transaction read only;select * from app.enter_tenant('${tenant.id}','${tenant.admin.id}',5000,10000)`,
      );
      expect(server.statements.slice(1)).toEqual(classic.statements.slice(1));
      expect(server.statements).toHaveLength(4);
    } finally {
      await classic.close();
    }
  });

  it('answers 401 with a reason for an organisation no tenant has, and for a subject that is not a member', async () => {
    const stranger: TestClient = { clientId: `m2m_stranger-${randomUUID()}`, clientSecret: randomUUID(), orgId: `org_unknown_${randomUUID()}` };
    const outsider: TestClient = { clientId: `m2m_outsider-${randomUUID()}`, clientSecret: randomUUID(), orgId };
    provider.addClient(stranger);
    provider.addClient(outsider);
    const unknown = await viewer(server, await provider.token(stranger));
    expect(unknown.status).toBe(401);
    expect(unknown.json.errors[0].message).toMatch(/tenant is not known here/);
    const notMember = await viewer(server, await provider.token(outsider));
    expect(notMember.status).toBe(401);
    expect(notMember.json.errors[0].message).toMatch(/not a member of its tenant/);
  });

  it('keeps numeric tenant ids and UUID subjects working', async () => {
    const classic = await createTestTenant();
    const client: TestClient = { clientId: classic.admin.id, clientSecret: randomUUID(), orgId: classic.id };
    provider.addClient(client);
    const result = await viewer(server, await provider.token(client));
    expect(result.json.errors).toBeUndefined();
    expect(result.json.data.viewer.user.email).toBe(classic.admin.email);
  });

  it('accepts a rotated-in key at once, and refuses a removed key once the key set is older than JWT_JWKS_MAX_AGE_MS', async () => {
    const oldKeyJwk = await provider.newKey();
    // Start from a known state: the current key, then an unsent token signed with it.
    provider.useKeys([oldKeyJwk]);
    const signedWithOld = await provider.token(member);
    const alsoSignedWithOld = await provider.token(member);
    expect(decodeProtectedHeader(signedWithOld).kid).toBe(oldKeyJwk.kid);
    expect((await viewer(server, signedWithOld)).json.errors).toBeUndefined();

    // Rotation: a new key signs, the old one is still published. Its unknown kid makes the API refetch at once.
    const newKey = await provider.newKey();
    provider.useKeys([newKey, oldKeyJwk]);
    const signedWithNew = await provider.token(member);
    expect(decodeProtectedHeader(signedWithNew).kid).toBe(newKey.kid);
    expect((await viewer(server, signedWithNew)).json.errors).toBeUndefined();

    // The old key is removed. Until the fetched key set is JWKS_MAX_AGE_MS old it still verifies (the bound).
    provider.useKeys([newKey]);
    expect((await viewer(server, alsoSignedWithOld)).json.errors).toBeUndefined();
    clock += JWKS_MAX_AGE_MS + 61_000; // past the key set's age and the verifier's 60 s memory of verified tokens
    const refused = await viewer(server, signedWithOld);
    expect(refused.status).toBe(401);
    expect(refused.json.errors[0].message).toMatch(/unknown key \(kid\)/);
    expect((await viewer(server, alsoSignedWithOld)).status).toBe(401);
    expect((await viewer(server, await provider.token(member))).json.errors).toBeUndefined();
  });
});

describe('tokens of a real OpenID Provider (URL-named tenant claim)', () => {
  it('finds the tenant at https://tenantgraph.test/tenant', async () => {
    const server = await apiFor('https://tenantgraph.test/tenant');
    try {
      const result = await viewer(server, await provider.token(member));
      expect(result.json.errors).toBeUndefined();
      expect(result.json.data.viewer.tenant.name).toBe(tenant.name);
    } finally {
      await server.close();
    }
  });

  it('refuses a token for another audience', async () => {
    const server = await startTestServer({
      jwt: { issuer: provider.issuer, audience: 'https://another-api.test', tenantClaim: 'org.id', jwksCooldownMs: 0 },
    });
    try {
      const result = await viewer(server, await provider.token(member));
      expect(result.status).toBe(401);
      expect(result.json.errors[0].message).toMatch(/claim "aud" is invalid/);
    } finally {
      await server.close();
    }
  });
});

describe('just-in-time membership (JWT_JIT_MEMBERSHIP, off by default)', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({
      jwt: { issuer: provider.issuer, audience: API_RESOURCE, tenantClaim: 'org.id', jwksCooldownMs: 0, justInTime: { roleClaim: 'org.role' } },
    });
  });
  afterAll(async () => {
    await server.close();
  });

  const membersWithSubject = (subject: string) =>
    withOwnerClient(
      async (client) => (await client.query('select tenant_id::text, role, email from users where external_subject = $1', [subject])).rows,
    );

  it('makes a verified subject of a known tenant a member with the role of its role claim, audited, once', async () => {
    const admin: TestClient = { clientId: `m2m_jit-admin-${randomUUID()}`, clientSecret: randomUUID(), orgId, orgRole: 'org:admin' };
    const billing: TestClient = { clientId: `m2m_jit-billing-${randomUUID()}`, clientSecret: randomUUID(), orgId, orgRole: 'billing' };
    provider.addClient(admin);
    provider.addClient(billing);

    const first = await viewer(server, await provider.token(admin));
    expect(first.json.errors).toBeUndefined();
    expect(first.json.data.viewer.user.email).toBe(`${admin.clientId}@jit.invalid`);
    expect(await membersWithSubject(admin.clientId)).toEqual([{ tenant_id: tenant.id, role: 'ADMIN', email: `${admin.clientId}@jit.invalid` }]);

    // Known now: the next request costs the ordinary statements only.
    server.statements.length = 0;
    expect((await viewer(server, await provider.token(admin))).json.errors).toBeUndefined();
    expect(server.statements).toHaveLength(4);

    expect((await viewer(server, await provider.token(billing))).json.errors).toBeUndefined();
    expect(await membersWithSubject(billing.clientId)).toEqual([expect.objectContaining({ role: 'MEMBER' })]);

    const audit = await server.post(
      { query: '{ auditEvents(first: 10, filter: { operationType: LIFECYCLE }) { nodes { operationName detail userId } } }' },
      { authorization: `Bearer ${await provider.token(admin)}` },
    );
    expect(audit.json.errors).toBeUndefined();
    const joined = audit.json.data.auditEvents.nodes.filter((n: { operationName: string }) => n.operationName === 'member.joined');
    expect(joined.map((n: { detail: string }) => n.detail).sort()).toEqual(['ADMIN', 'MEMBER']);
  });

  it('adds no member to an unknown or a suspended tenant', async () => {
    const stranger: TestClient = { clientId: `m2m_jit-stranger-${randomUUID()}`, clientSecret: randomUUID(), orgId: `org_nobody_${randomUUID()}` };
    provider.addClient(stranger);
    expect((await viewer(server, await provider.token(stranger))).status).toBe(401);
    expect(await membersWithSubject(stranger.clientId)).toEqual([]);

    const paused = await createTestTenant();
    const pausedOrg = `org_paused_${randomUUID()}`;
    await setTenantExternalId(inject('ownerUrl'), paused.id, pausedOrg);
    await suspendTenant(inject('ownerUrl'), paused.id, 'trial ended');
    const late: TestClient = { clientId: `m2m_jit-late-${randomUUID()}`, clientSecret: randomUUID(), orgId: pausedOrg };
    provider.addClient(late);
    const refused = await viewer(server, await provider.token(late));
    expect(refused.status).toBe(403);
    expect(refused.json.errors[0].extensions.code).toBe('TENANT_SUSPENDED');
    expect(await membersWithSubject(late.clientId)).toEqual([]);
    await resumeTenant(inject('ownerUrl'), paused.id);
  });
});

describe('planLimitsFromDatabase by an external id', () => {
  it("returns the tenant's id, so fairness and rate limits count the tenant once whichever name its tokens use", async () => {
    const pool = createPool({ connectionString: inject('appUrl'), max: 1, applicationName: 'tenantgraph-test-plan-by-name' });
    const database = createAppDatabase(pool);
    try {
      const byName = await planLimitsFromDatabase(database, 1000)(orgId);
      const byId = await planLimitsFromDatabase(database, 1000)(tenant.id);
      expect(byName).toEqual(byId);
      expect(byName.tenantId).toBe(tenant.id);
      await expect(planLimitsFromDatabase(database, 1000)(`org_none_${randomUUID()}`)).rejects.toMatchObject({
        code: 'TG002',
        detail: 'unknown_tenant',
      });
    } finally {
      await database.db.destroy();
      await pool.end().catch(() => {});
    }
  });

  it('reads a plan in one round trip, and a refused read leaves its connection fit for the next', async () => {
    const pool = createPool({ connectionString: inject('appUrl'), max: 1, applicationName: 'tenantgraph-test-plan-round-trips' });
    const sent: string[] = [];
    pool.on('acquire', (client) => {
      const query = client.query.bind(client) as (...args: unknown[]) => unknown;
      (client as unknown as { query: unknown }).query = (...args: unknown[]) => {
        if (typeof args[0] === 'string') sent.push(args[0]);
        return query(...args);
      };
    });
    const database = createAppDatabase(pool);
    try {
      const read = planLimitsFromDatabase(database, 1000);
      const limits = await read(tenant.id);
      expect(sent).toHaveLength(1);
      expect(sent[0]).toMatch(/^start transaction read only;select \* from app\.enter_tenant\('\d+',null,1000,1000\);select p\.plan, .*;commit$/s);
      expect(limits).toMatchObject({ tenantId: tenant.id, plan: expect.any(String), requestsPerSecond: expect.any(Number) });
      // Refused inside the string (unknown name): rolled back, so the pool's one connection serves the next read.
      await expect(read(`org_none_${randomUUID()}`)).rejects.toMatchObject({ code: 'TG002' });
      expect(await read(tenant.id)).toEqual(limits);
    } finally {
      await database.db.destroy();
      await pool.end().catch(() => {});
    }
  });
});
