import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { InviteUserDocument, UsersDocument, ViewerDocument } from '../../src/__generated__/sdk/graphql.js';
import { issueToken } from '../../src/auth/token-issuer.js';
import { forgeToken, HS256_HEADER, payloadJson } from '../support/forged-tokens.js';
import { startTestServer, TEST_JWT_SECRET, type TestServer } from '../support/server.js';
import { createTestTenant, tokenFor, type TestTenant } from '../support/tenants.js';

const VIEWER_QUERY = '{ viewer { user { id } } }';
const INTROSPECTION_QUERY = '{ __schema { queryType { name } } }';

/** POSTs the viewer query with a raw Authorization header (or none) and returns status, body and its text. */
async function postViewer(server: TestServer, authorization: string | undefined) {
  const response = await fetch(server.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(authorization === undefined ? {} : { authorization }) },
    body: JSON.stringify({ query: VIEWER_QUERY }),
  });
  const text = await response.text();
  return { status: response.status, text, json: JSON.parse(text) as { data?: unknown; errors?: any[] } };
}

function expectUnauthenticated(result: Awaited<ReturnType<typeof postViewer>>, message: RegExp, secretParts: string[]) {
  expect(result.status).toBe(401);
  expect(result.json.errors).toHaveLength(1);
  expect(result.json.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  expect(result.json.errors?.[0]?.message).toMatch(message);
  expect(result.json.data ?? null).toBeNull();
  // SECURITY: neither the token (nor any piece of it) nor the secret may come back to the client.
  for (const part of [...secretParts, TEST_JWT_SECRET].filter((p) => p.length >= 8)) {
    expect(result.text).not.toContain(part);
  }
}

function tokenParts(token: string): string[] {
  return [token, ...token.split('.')];
}

describe('Authorization header (rejected before the database)', () => {
  let server: TestServer;
  let tenant: TestTenant;
  beforeAll(async () => {
    server = await startTestServer();
    tenant = await createTestTenant();
  });
  afterAll(async () => {
    await server.close();
  });

  /** Runs one rejected request and checks it ran no SQL at all, so no tenant was ever set for it. */
  async function expectRejectedWithoutSql(authorization: string | undefined, message: RegExp, token = '') {
    server.statements.length = 0;
    const result = await postViewer(server, authorization);
    expectUnauthenticated(result, message, token ? tokenParts(token) : []);
    expect(server.statements).toEqual([]);
  }

  function validPayload(fields: Record<string, string | undefined> = {}) {
    return payloadJson({ tenant_id: JSON.stringify(tenant.id), sub: JSON.stringify(tenant.admin.id), ...fields });
  }

  it('answers 401 "Missing Authorization header" when the header is absent', async () => {
    await expectRejectedWithoutSql(undefined, /Missing Authorization header/);
  });

  it.each([
    ['a Basic scheme', 'Basic dXNlcjpwYXNz'],
    ['"Bearer" without a token', 'Bearer'],
    ['two tokens', 'Bearer abc.def.ghi jkl.mno.pqr'],
    ['a token without a scheme', 'eyJhbGciOiJIUzI1NiJ9.e30.c2ln'],
    ['characters outside base64url', 'Bearer abc.d$f.ghi'],
    ['an empty value', ''],
  ])('answers 401 "Malformed Authorization header" for %s', async (_case, authorization) => {
    await expectRejectedWithoutSql(authorization, authorization === '' ? /Missing|Malformed/ : /Malformed Authorization header/);
  });

  it.each([
    ['a single word', 'garbage'],
    ['three non-JSON segments', 'not.a.jwt'],
    ['a correctly signed payload that is not JSON', forgeToken(HS256_HEADER, 'not json')],
    ['a correctly signed payload that is a JSON array', forgeToken(HS256_HEADER, '[1,2]')],
  ])('answers 401 "Token is malformed" for garbage (%s)', async (_case, token) => {
    await expectRejectedWithoutSql(`Bearer ${token}`, /Token is malformed/, token);
  });

  it('answers 401 without echoing a token longer than the limit', async () => {
    const token = `${'a'.repeat(5000)}.${'b'.repeat(5000)}.c`;
    await expectRejectedWithoutSql(`Bearer ${token}`, /longer than 8192/, token);
  });

  it('answers 401 "Token has expired" for an expired token', async () => {
    const now = Math.floor(Date.now() / 1000);
    const token = forgeToken(HS256_HEADER, validPayload({ iat: String(now - 7200), exp: String(now - 60) }));
    await expectRejectedWithoutSql(`Bearer ${token}`, /Token has expired/, token);
  });

  it('answers 401 "signature is invalid" for a token signed with another secret', async () => {
    const token = forgeToken(HS256_HEADER, validPayload(), 'another-secret-another-secret-another-secret');
    await expectRejectedWithoutSql(`Bearer ${token}`, /Token signature is invalid/, token);
  });

  it('answers 401 "signature is invalid" for a valid token whose payload was swapped', async () => {
    const other = await createTestTenant();
    const [header, , signature] = tenant.admin.token.split('.');
    const forgedPayload = Buffer.from(validPayload({ tenant_id: JSON.stringify(other.id) })).toString('base64url');
    const token = `${header}.${forgedPayload}.${signature}`;
    await expectRejectedWithoutSql(`Bearer ${token}`, /Token signature is invalid/, token);
  });

  it('answers 401 naming the algorithm for an unsigned `alg: none` token', async () => {
    const token = forgeToken('{"alg":"none","typ":"JWT"}', validPayload(), null);
    await expectRejectedWithoutSql(`Bearer ${token}`, /algorithm this server does not accept/, token);
  });

  it('answers 401 naming the algorithm for a token signed with HS512', async () => {
    const token = await new SignJWT({ tenant_id: tenant.id })
      .setProtectedHeader({ alg: 'HS512' })
      .setSubject(tenant.admin.id)
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode(TEST_JWT_SECRET));
    await expectRejectedWithoutSql(`Bearer ${token}`, /algorithm this server does not accept/, token);
  });

  it('answers 401 "exp is required" for a token without exp', async () => {
    const token = forgeToken(HS256_HEADER, validPayload({ exp: undefined }));
    await expectRejectedWithoutSql(`Bearer ${token}`, /no expiry \(exp is required\)/, token);
  });

  it('answers 401 "no valid tenant" for a token without a tenant claim', async () => {
    const token = forgeToken(HS256_HEADER, validPayload({ tenant_id: undefined }));
    await expectRejectedWithoutSql(`Bearer ${token}`, /Token has no valid tenant: claim "tenant_id"/, token);
  });

  it.each([
    ['negative number', '-5'],
    ['zero', '0'],
    ['zero string', '"0"'],
    ['fractional number', '1.5'],
    ['empty string', '""'],
    ['leading zero', '"01"'],
    ['padded string', '" 1"'],
    ['array', '[1]'],
    ['array of two', '["org_a","org_b"]'],
    ['string with a space', '"org a"'],
    ['string with a backslash', '"org\\\\a"'],
    ['string of 256 characters', `"${'o'.repeat(256)}"`],
    ['object', '{"id":1}'],
    ['boolean', 'true'],
    ['null', 'null'],
    ['SQL tautology', '"1 OR 1=1"'],
    ['SQL injection', `"1'; SET row_security=off;--"`],
    ['number above 2^53', '9007199254740993'],
    ['string above the bigint range', '"9223372036854775808"'],
  ])('answers 401 "no valid tenant" when the tenant claim is a %s', async (_case, claim) => {
    const token = forgeToken(HS256_HEADER, validPayload({ tenant_id: claim }));
    await expectRejectedWithoutSql(`Bearer ${token}`, /Token has no valid tenant/, token);
  });

  it.each([
    ['a string with a quote', `"auth0|o'brien"`],
    ['a string with a space', '"auth0 abc"'],
    ['a number', '42'],
    ['a UUID with SQL appended', `"${randomUUID()}' or '1'='1"`],
    ['absent', undefined],
  ])('answers 401 "no valid subject" when sub is %s', async (_case, sub) => {
    const token = forgeToken(HS256_HEADER, validPayload({ sub }));
    await expectRejectedWithoutSql(`Bearer ${token}`, /Token has no valid subject/, token);
  });
});

describe('Authorization header (membership checked in the database)', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => {
    await server.close();
  });

  it('answers 401 "not a member" when sub is another tenant\'s user, and rolls back', async () => {
    const [home, other] = await Promise.all([createTestTenant(), createTestTenant()]);
    const token = await tokenFor(home.id, other.admin.id);
    server.statements.length = 0;
    const result = await postViewer(server, `Bearer ${token}`);
    expectUnauthenticated(result, /not a member of its tenant/, tokenParts(token));
    expect(server.statements).toHaveLength(2);
    expect(server.statements[0]).toMatch(/^start transaction read only;select \* from app\.enter_tenant\('\d+','[0-9a-f-]{36}',\d+,\d+\)$/);
    expect(server.statements[1]).toBe('rollback');
  });

  it.each([
    ['a negative number as a string', '-5'],
    ['a fraction as a string', '1.5'],
    ['an exponent as a string', '1e3'],
    ['an organisation id', `org_${randomUUID()}`],
  ])('answers 401 "not known here" when the tenant claim is %s that is no tenant\'s external id', async (_case, claim) => {
    const home = await createTestTenant();
    const token = forgeToken(HS256_HEADER, payloadJson({ tenant_id: JSON.stringify(claim), sub: JSON.stringify(home.admin.id) }));
    server.statements.length = 0;
    const result = await postViewer(server, `Bearer ${token}`);
    expectUnauthenticated(result, /tenant is not known here/, tokenParts(token));
    // The tenant's plan lookup (bookkeeping, not the request's statements) is refused first: the request's own
    // transaction never begins.
    expect(server.statements).toEqual([]);
  });

  it('answers 401 "not a member" when sub is an external subject no member of the tenant has', async () => {
    const home = await createTestTenant();
    const token = forgeToken(HS256_HEADER, payloadJson({ tenant_id: JSON.stringify(home.id), sub: '"auth0|nobody"' }));
    const result = await postViewer(server, `Bearer ${token}`);
    expectUnauthenticated(result, /not a member of its tenant/, tokenParts(token));
  });

  it('answers 401 "not a member" when the tenant does not exist', async () => {
    const token = await tokenFor('999999999999999999', randomUUID());
    const result = await postViewer(server, `Bearer ${token}`);
    expectUnauthenticated(result, /not a member of its tenant/, tokenParts(token));
  });

  it('accepts the tenant claim as a JSON number that is a safe integer', async () => {
    const tenant = await createTestTenant();
    expect(Number.isSafeInteger(Number(tenant.id))).toBe(true);
    const token = forgeToken(HS256_HEADER, payloadJson({ tenant_id: tenant.id, sub: JSON.stringify(tenant.admin.id) }));
    const result = await server.client(token).request(ViewerDocument);
    expect(result.status).toBe(200);
    expect(result.errors).toBeUndefined();
    expect(result.data?.viewer.user.email).toBe(tenant.admin.email);
    expect(result.data?.viewer.tenant.name).toBe(tenant.name);
  });

  it('accepts an upper-case UUID as sub', async () => {
    const tenant = await createTestTenant();
    const token = await tokenFor(tenant.id, tenant.admin.id.toUpperCase());
    const result = await server.client(token).request(ViewerDocument);
    expect(result.errors).toBeUndefined();
    expect(result.data?.viewer.user.email).toBe(tenant.admin.email);
  });
});

describe('JWT issuer and audience', () => {
  const issuer = 'https://issuer.tenantgraph.test/';
  const audience = 'tenantgraph-api';
  let server: TestServer;
  let tenant: TestTenant;
  beforeAll(async () => {
    server = await startTestServer({ jwt: { secret: TEST_JWT_SECRET, tenantClaim: 'tenant_id', issuer, audience } });
    tenant = await createTestTenant();
  });
  afterAll(async () => {
    await server.close();
  });

  function token(claims: { issuer?: string; audience?: string }) {
    return issueToken({ secret: TEST_JWT_SECRET, tenantId: tenant.id, userId: tenant.admin.id, ...claims });
  }

  it('accepts a token with the configured issuer and audience', async () => {
    const result = await server.client(await token({ issuer, audience })).request(ViewerDocument);
    expect(result.errors).toBeUndefined();
    expect(result.data?.viewer.user.id).toBeTruthy();
  });

  it.each([
    ['another issuer', { issuer: 'https://evil.test/', audience }, /claim "iss"/],
    ['no issuer', { audience }, /claim "iss"/],
    ['another audience', { issuer, audience: 'some-other-api' }, /claim "aud"/],
    ['no audience', { issuer }, /claim "aud"/],
  ])('answers 401 naming the claim for %s', async (_case, claims, message) => {
    const jwt = await token(claims);
    server.statements.length = 0;
    const result = await postViewer(server, `Bearer ${jwt}`);
    expectUnauthenticated(result, message, tokenParts(jwt));
    expect(server.statements).toEqual([]);
  });
});

describe('Introspection without a token', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => {
    await server.close();
  });

  it('answers an introspection-only query in development, without SQL', async () => {
    server.statements.length = 0;
    const result = await server.post({ query: INTROSPECTION_QUERY });
    expect(result.status).toBe(200);
    expect(result.json.errors).toBeUndefined();
    expect(result.json.data.__schema.queryType.name).toBe('Query');
    expect(server.statements).toEqual([]);
  });

  it.each([
    ['a plain data query', VIEWER_QUERY],
    ['a data field next to introspection', '{ __typename viewer { user { id } } }'],
    ['a data field inside a fragment', 'query { ...F } fragment F on Query { viewer { user { id } } }'],
    ['a data field inside an inline fragment', '{ ... on Query { viewer { user { id } } } }'],
    ['a data field aliased as __schema', '{ __schema: viewer { user { id } } }'],
  ])('answers 401 for %s', async (_case, query) => {
    server.statements.length = 0;
    const result = await server.post({ query });
    expect(result.status).toBe(401);
    expect(result.json.errors[0].extensions.code).toBe('UNAUTHENTICATED');
    expect(result.json.errors[0].message).toMatch(/Missing Authorization header/);
    expect(result.json.data ?? null).toBeNull();
    expect(server.statements).toEqual([]);
  });

  it('answers 401 for a mutation', async () => {
    const result = await server.post({ query: 'mutation { createConversation(input: { title: "x" }) { conversation { id } } }' });
    expect(result.status).toBe(401);
    expect(result.json.errors[0].extensions.code).toBe('UNAUTHENTICATED');
  });
});

describe('Introspection in production', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ production: true, introspection: false });
  });
  afterAll(async () => {
    await server.close();
  });

  it('refuses introspection without a token', async () => {
    const result = await server.post({ query: INTROSPECTION_QUERY });
    expect(result.status).toBe(400);
    expect(result.json.errors[0].message).toMatch(/introspection is not allowed/i);
    expect(result.json.data).toBeUndefined();
  });

  it('refuses introspection with a valid token', async () => {
    const tenant = await createTestTenant();
    const result = await server.post({ query: '{ __type(name: "Conversation") { name } }' }, { authorization: `Bearer ${tenant.admin.token}` });
    expect(result.status).toBe(400);
    expect(result.json.errors[0].message).toMatch(/introspection is not allowed/i);
  });

  it('still answers data queries with a valid token', async () => {
    const tenant = await createTestTenant();
    const result = await server.client(tenant.admin.token).request(ViewerDocument);
    expect(result.errors).toBeUndefined();
    expect(result.data?.viewer.user.email).toBe(tenant.admin.email);
  });
});

describe('Mutation.inviteUser', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => {
    await server.close();
  });

  /** Counts a tenant's users with this email through the owner connection, not through the API under test. */
  async function countUsersWithEmail(tenantId: string, email: string): Promise<number> {
    const client = new pg.Client({ connectionString: inject('ownerUrl') });
    await client.connect();
    try {
      const { rows } = await client.query<{ count: number }>(
        'select count(*)::int as count from users where tenant_id = $1 and lower(email) = lower($2)',
        [tenantId, email],
      );
      return rows[0]!.count;
    } finally {
      await client.end();
    }
  }

  it('answers FORBIDDEN to a MEMBER and writes nothing', async () => {
    const tenant = await createTestTenant();
    const member = await tenant.addUser('MEMBER');
    server.statements.length = 0;
    const result = await server
      .client(member.token)
      .request(InviteUserDocument, { input: { email: 'invitee@example.test', displayName: 'Invitee', role: 'ADMIN' } });
    expect(result.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect(result.errors?.[0]?.message).toMatch(/Only ADMINs may invite users/);
    expect(result.data ?? null).toBeNull();
    expect(server.statements.at(-1)).toBe('rollback');
    expect(server.statements.some((s) => /insert/i.test(s))).toBe(false);
    expect(await countUsersWithEmail(tenant.id, 'invitee@example.test')).toBe(0);
    const users = await server.client(tenant.admin.token).request(UsersDocument, {});
    expect(users.data?.users.totalCount).toBe(2);
  });

  it('lets an ADMIN invite a MEMBER by default, or an ADMIN when asked', async () => {
    const tenant = await createTestTenant();
    const api = server.client(tenant.admin.token);
    const member = await api.request(InviteUserDocument, { input: { email: ' new.member@example.test ', displayName: 'New Member' } });
    expect(member.errors).toBeUndefined();
    expect(member.data?.inviteUser.user).toMatchObject({ email: 'new.member@example.test', displayName: 'New Member', role: 'MEMBER' });
    const admin = await api.request(InviteUserDocument, { input: { email: 'new.admin@example.test', displayName: 'New Admin', role: 'ADMIN' } });
    expect(admin.data?.inviteUser.user.role).toBe('ADMIN');
    expect(await countUsersWithEmail(tenant.id, 'new.member@example.test')).toBe(1);

    const users = await api.request(UsersDocument, {});
    expect(users.data?.users.nodes.map((u) => u.email)).toEqual([tenant.admin.email, 'new.member@example.test', 'new.admin@example.test']);
  });

  it('lets an invited ADMIN invite in turn', async () => {
    const tenant = await createTestTenant();
    const secondAdmin = await tenant.addUser('ADMIN');
    const result = await server
      .client(secondAdmin.token)
      .request(InviteUserDocument, { input: { email: 'third@example.test', displayName: 'Third' } });
    expect(result.errors).toBeUndefined();
  });

  it('answers BAD_USER_INPUT for an email already in the tenant, compared case-insensitively', async () => {
    const tenant = await createTestTenant();
    const api = server.client(tenant.admin.token);
    const first = await api.request(InviteUserDocument, { input: { email: 'alice@example.test', displayName: 'Alice' } });
    expect(first.errors).toBeUndefined();
    for (const email of ['alice@example.test', 'ALICE@Example.TEST', tenant.admin.email.toUpperCase()]) {
      const again = await api.request(InviteUserDocument, { input: { email, displayName: 'Alice again' } });
      expect(again.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      expect(again.errors?.[0]?.extensions?.field).toBe('email');
      expect(again.errors?.[0]?.message).toBe('A user with this email already exists in your tenant.');
      expect(JSON.stringify(again.errors)).not.toMatch(/users_tenant_email_key|duplicate key|insert/i);
    }
    expect(await countUsersWithEmail(tenant.id, 'alice@example.test')).toBe(1);
  });

  it('accepts an email that exists only in another tenant', async () => {
    const [first, second] = await Promise.all([createTestTenant(), createTestTenant()]);
    const email = `shared-${randomUUID()}@example.test`;
    const a = await server.client(first.admin.token).request(InviteUserDocument, { input: { email, displayName: 'Shared' } });
    const b = await server.client(second.admin.token).request(InviteUserDocument, { input: { email: email.toUpperCase(), displayName: 'Shared' } });
    expect(a.errors).toBeUndefined();
    expect(b.errors).toBeUndefined();
    expect(b.data?.inviteUser.user.id).not.toBe(a.data?.inviteUser.user.id);
    expect(await countUsersWithEmail(first.id, email)).toBe(1);
    expect(await countUsersWithEmail(second.id, email)).toBe(1);
  });
});
