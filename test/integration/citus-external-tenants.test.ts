import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setTenantExternalId } from '../../src/admin/external-names.js';
import { createTenant, type ProvisionedTenant } from '../../src/admin/tenants.js';
import { createAppDatabase, type AppDatabase } from '../../src/db/kysely.js';
import { createPool } from '../../src/db/pool.js';
import { beginTenantTransaction } from '../../src/tenancy/tenant-transaction.js';
import { createTestDatabase, type TestDatabase } from '../../scripts/lib/scratch-database.js';
import { startTestProvider, API_RESOURCE, type TestClient, type TestProvider } from '../support/oidc-provider.js';
import { runCliInProcess } from '../support/processes.js';
import { startTestServer, type TestServer } from '../support/server.js';

/**
 * External (string) tenant ids under TENANT_CONTEXT_MODE=citus (issue 13 §1, §5), on plain PostgreSQL switched to the
 * Citus policy form as an operator would (docs/citus.md), with tokens of a real OpenID Provider (oidc-provider): the
 * prologue applies the tenant id remembered for the token's organisation with SET LOCAL, and app.enter_tenant
 * (migrations/0019) enters it only while it still has that organisation's id.
 */
let database: TestDatabase;
let provider: TestProvider;
let server: TestServer;

const org = () => `org_${randomUUID().replaceAll('-', '').slice(0, 20)}`;
let counter = 0;

/** A tenant of the scratch database whose ADMIN's subject is `subject`, named by `externalId`. */
function tenantWith(subject: string, externalId?: string): Promise<ProvisionedTenant> {
  const unique = `${Date.now().toString(36)}-${counter++}`;
  return createTenant(database.ownerUrl, {
    name: `Citus tenant ${unique}`,
    adminEmail: `admin-${unique}@citus.test`,
    adminSubject: subject,
    ...(externalId ? { externalId } : {}),
  });
}

/** A machine client of the provider, registered, whose tokens carry `orgId` at org.id. */
function clientOf(orgId: string, clientId = `m2m_citus-${randomUUID()}`): TestClient {
  const client = { clientId, clientSecret: randomUUID(), orgId };
  provider.addClient(client);
  return client;
}

async function viewer(token: string) {
  return server.post({ query: '{ viewer { user { email } tenant { id name } } }' }, { authorization: `Bearer ${token}` });
}

/** The Citus-mode prologue of a read for this tenant id, member and (when the token named one) external id. */
const citusPrologue = (tenantId: string, member: string, externalId?: string) =>
  `start transaction read only;set local app.current_tenant = '${tenantId}';select * from app.enter_tenant('${tenantId}','${member}',5000,10000${externalId ? `,'${externalId}'` : ''})`;

beforeAll(async () => {
  database = await createTestDatabase();
  const env = { DATABASE_URL: database.ownerUrl, DATABASE_URL_APP: database.appUrl, DATABASE_URL_OPERATOR: database.operatorUrl };
  const switched = await runCliInProcess(['tenant-policies', '--form', 'citus'], env);
  expect(switched.status, switched.stderr).toBe(0);
  provider = await startTestProvider();
  provider.useKeys([await provider.newKey()]);
  server = await startTestServer({
    appUrl: database.appUrl,
    tenantContext: 'citus',
    jwt: { issuer: provider.issuer, audience: API_RESOURCE, tenantClaim: 'org.id', jwksCooldownMs: 0 },
  });
}, 120_000);
afterAll(async () => {
  await server?.close();
  await provider?.close();
  await database?.drop();
});

describe('a token with a string organisation id in Citus mode', () => {
  it('reaches its tenant, and every request costs the statements of a numeric tenant id: no extra round trip', async () => {
    const orgId = org();
    const client = clientOf(orgId);
    const tenant = await tenantWith(client.clientId, orgId);
    const token = await provider.token(client);

    server.statements.length = 0;
    const first = await viewer(token);
    expect(first.json.errors).toBeUndefined();
    expect(first.json.data.viewer.tenant.name).toBe(tenant.tenant.name);
    expect(first.json.data.viewer.user.email).toBe(tenant.user.email);
    // The plan lookup before it (not a statement of the request) found the tenant id; the request uses it.
    expect(server.statements[0]).toBe(citusPrologue(tenant.tenant.id, client.clientId, orgId));
    expect(server.statements).toHaveLength(4);

    server.statements.length = 0;
    expect((await viewer(token)).json.data.viewer.tenant.name).toBe(tenant.tenant.name);
    const second = [...server.statements];

    // The same query for a token that names its tenant by the tenant's id: the same statements but for the prologue.
    const subject = `m2m_citus-${randomUUID()}`;
    const byId = await tenantWith(subject);
    const numeric = clientOf(byId.tenant.id, subject);
    server.statements.length = 0;
    expect((await viewer(await provider.token(numeric))).json.data.viewer.tenant.name).toBe(byId.tenant.name);
    expect(server.statements[0]).toBe(citusPrologue(byId.tenant.id, numeric.clientId));
    expect(second.slice(1)).toEqual(server.statements.slice(1));
    expect(second).toHaveLength(server.statements.length);
  });

  it('answers 401 with a reason for an organisation no tenant has', async () => {
    const stranger = clientOf(org());
    const refused = await viewer(await provider.token(stranger));
    expect(refused.status).toBe(401);
    expect(refused.json.errors[0].extensions.code).toBe('UNAUTHENTICATED');
    expect(refused.json.errors[0].message).toMatch(/tenant is not known here/);
  });

  it('after its organisation id moved to another tenant, reaches only the tenant that has it now, never the old one', async () => {
    const orgId = org();
    const client = clientOf(orgId);
    const before = await tenantWith(client.clientId, orgId);
    const token = await provider.token(client);
    expect((await viewer(token)).json.data.viewer.tenant.name).toBe(before.tenant.name);

    // The organisation moves to a tenant where the subject is not a member: refused, and the old tenant not entered.
    const after = await tenantWith(`someone-else-${randomUUID()}`);
    await setTenantExternalId(database.ownerUrl, before.tenant.id, null);
    await setTenantExternalId(database.ownerUrl, after.tenant.id, orgId);
    server.statements.length = 0;
    const notMember = await viewer(token);
    expect(notMember.status).toBe(401);
    expect(notMember.json.errors[0].message).toMatch(/not a member of its tenant/);
    // The remembered id was tried, refused by app.enter_tenant, forgotten; the organisation was looked up again and
    // its new tenant checked the membership.
    expect(server.statements).toEqual([
      citusPrologue(before.tenant.id, client.clientId, orgId),
      'rollback',
      'select entered_tenant from app.enter_tenant($1, null, $2, $3)',
      citusPrologue(after.tenant.id, client.clientId, orgId),
      'rollback',
    ]);

    // The subject joins the new tenant (as its identity provider now says): the same token reaches it, and only it.
    const subjectTenant = await tenantWith(client.clientId);
    await setTenantExternalId(database.ownerUrl, after.tenant.id, null);
    await setTenantExternalId(database.ownerUrl, subjectTenant.tenant.id, orgId);
    const moved = await viewer(token);
    expect(moved.json.errors).toBeUndefined();
    expect(moved.json.data.viewer.tenant.name).toBe(subjectTenant.tenant.name);
    server.statements.length = 0;
    expect((await viewer(token)).json.data.viewer.tenant.name).toBe(subjectTenant.tenant.name);
    expect(server.statements[0]).toBe(citusPrologue(subjectTenant.tenant.id, client.clientId, orgId));
    expect(server.statements).toHaveLength(4);
  });
});

describe('beginTenantTransaction with an external tenant id in Citus mode', () => {
  let app: AppDatabase;
  beforeAll(() => {
    const pool = createPool({ connectionString: database.appUrl, max: 1, applicationName: 'tenantgraph-test-citus-external' });
    app = createAppDatabase(pool, undefined, { tenantContext: 'citus' });
  });
  afterAll(async () => {
    await app.db.destroy();
  });

  const mode = { readOnly: true, statementTimeoutMs: 5000, idleInTransactionTimeoutMs: 5000 } as const;

  async function statementsOfBegin(tenantId: string): Promise<string[]> {
    const seen: string[] = [];
    const tx = await beginTenantTransaction(app, { tenantId, userId: null }, mode, (event) => seen.push(event.sql));
    await tx.rollback().execute();
    return seen;
  }

  it('looks an external id up once, on a miss, and then opens its transactions in the one prologue round trip', async () => {
    const orgId = org();
    const tenant = await tenantWith(`sub-${randomUUID()}`, orgId);
    const prologue = `start transaction read only;set local app.current_tenant = '${tenant.tenant.id}';select * from app.enter_tenant('${tenant.tenant.id}',null,5000,5000,'${orgId}')`;
    expect(await statementsOfBegin(orgId)).toEqual(['select entered_tenant from app.enter_tenant($1, null, $2, $3)', prologue, 'rollback']);
    expect(await statementsOfBegin(orgId)).toEqual([prologue, 'rollback']);
    expect(app.externalTenantIds!.get(orgId)).toBe(tenant.tenant.id);
  });

  it('remembers no unknown external id: each is refused by the database (TG002 unknown_tenant) and adds no entry', async () => {
    const size = app.externalTenantIds!.size;
    for (const unknown of [org(), org(), org()]) {
      await expect(statementsOfBegin(unknown)).rejects.toMatchObject({ code: 'TG002', detail: 'unknown_tenant' });
    }
    expect(app.externalTenantIds!.size).toBe(size);
  });

  it('refuses a deleted tenant whose id was remembered, and forgets it', async () => {
    const orgId = org();
    const tenant = await tenantWith(`sub-${randomUUID()}`, orgId);
    await statementsOfBegin(orgId);
    const result = await runCliInProcess(['tenant', 'delete', '--tenant', tenant.tenant.id, '--confirm', tenant.tenant.name], {
      DATABASE_URL: database.ownerUrl,
      DATABASE_URL_APP: database.appUrl,
      DATABASE_URL_OPERATOR: database.operatorUrl,
    });
    expect(result.status, result.stderr).toBe(0);
    await expect(statementsOfBegin(orgId)).rejects.toMatchObject({ code: 'TG002', detail: 'unknown_tenant' });
    expect(app.externalTenantIds!.get(orgId)).toBeUndefined();
  });
});
