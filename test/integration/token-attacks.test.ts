import { createServer, type Server } from 'node:http';
import { createHmac } from 'node:crypto';
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.js';
import { createTestTenant, type TestTenant } from '../support/tenants.js';

// A local identity provider: a JWKS endpoint on loopback, as JWT_JWKS_URL would name a real one.
let jwks: Server;
let server: TestServer;
let tenant: TestTenant;
type SigningKey = Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];
let signingKey: SigningKey;
let publicJwk: JWK;
let publicPem: string;
/** The server's clock runs this far ahead of the system clock: a test advances it instead of sleeping. */
let clockAheadMs = 0;

beforeAll(async () => {
  const pair = await generateKeyPair('RS256', { extractable: true });
  signingKey = pair.privateKey;
  publicJwk = { ...(await exportJWK(pair.publicKey)), kid: 'main', alg: 'RS256', use: 'sig' };
  publicPem = await exportSPKI(pair.publicKey);
  jwks = createServer((_req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ keys: [publicJwk] }));
  });
  await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
  const { port } = jwks.address() as { port: number };
  server = await startTestServer({
    jwt: { jwksUrl: `http://127.0.0.1:${port}/jwks.json`, tenantClaim: 'tenant_id', now: () => Date.now() + clockAheadMs },
  });
  tenant = await createTestTenant();
});

afterAll(async () => {
  await server.close();
  await new Promise((resolve) => jwks.close(resolve));
});

const viewerQuery = { query: '{ viewer { tenant { name } } }' };

function rs256(claims: Record<string, unknown>, kid = 'main', key: SigningKey = signingKey) {
  return new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid }).setSubject(tenant.admin.id).setExpirationTime('5m').sign(key);
}

/** Signs header.payload with HMAC-SHA256 and an arbitrary key, as an attacker would by hand. */
function hs256WithKey(key: string | Buffer, header: object, payload: object): string {
  const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const body = `${encode(header)}.${encode(payload)}`;
  return `${body}.${createHmac('sha256', key).update(body).digest('base64url')}`;
}

async function expectRefused(token: string, reason: RegExp) {
  server.statements.length = 0;
  const result = await server.post(viewerQuery, { authorization: `Bearer ${token}` });
  expect(result.status).toBe(401);
  expect(result.json.errors[0].extensions.code).toBe('UNAUTHENTICATED');
  expect(result.json.errors[0].message).toMatch(reason);
  expect(JSON.stringify(result.json)).not.toContain(token.slice(-20));
  // Refused before the database: not one statement ran under a tenant.
  expect(server.statements).toEqual([]);
}

describe('token verification with a JWKS', () => {
  it('accepts an RS256 token signed by the identity provider', async () => {
    const token = await rs256({ tenant_id: tenant.id });
    const result = await server.post(viewerQuery, { authorization: `Bearer ${token}` });
    expect(result.status).toBe(200);
    expect(result.json.data.viewer.tenant.name).toBe(tenant.name);
  });

  it('refuses HS256 signed with the public key (algorithm confusion)', async () => {
    const payload = { tenant_id: tenant.id, sub: tenant.admin.id, exp: Math.floor(Date.now() / 1000) + 300 };
    await expectRefused(hs256WithKey(publicPem, { alg: 'HS256', kid: 'main' }, payload), /algorithm/);
    await expectRefused(hs256WithKey(Buffer.from(publicJwk.n!, 'base64url'), { alg: 'HS256', kid: 'main' }, payload), /algorithm/);
  });

  it('refuses a token signed with an unknown key id', async () => {
    const other = await generateKeyPair('RS256');
    await expectRefused(await rs256({ tenant_id: tenant.id }, 'rotated-away', other.privateKey), /unknown key/);
  });

  it("refuses a token whose kid is known but whose signature is not the key holder's", async () => {
    const other = await generateKeyPair('RS256');
    await expectRefused(await rs256({ tenant_id: tenant.id }, 'main', other.privateKey), /signature/);
  });

  it('refuses a token that expired after it was accepted (verified tokens are remembered only until exp)', async () => {
    // 30 s: inside the 60 s the verifier remembers a token at most, so only its exp can end the remembered entry.
    const token = await new SignJWT({ tenant_id: tenant.id })
      .setProtectedHeader({ alg: 'RS256', kid: 'main' })
      .setSubject(tenant.admin.id)
      .setExpirationTime(Math.floor(Date.now() / 1000) + 30)
      .sign(signingKey);
    const accepted = await server.post(viewerQuery, { authorization: `Bearer ${token}` });
    expect(accepted.status).toBe(200);
    try {
      clockAheadMs = 25_000;
      expect((await server.post(viewerQuery, { authorization: `Bearer ${token}` })).status).toBe(200);
      clockAheadMs = 31_000;
      await expectRefused(token, /expired/);
    } finally {
      clockAheadMs = 0;
    }
  });

  it('refuses a token whose nbf is in the future', async () => {
    const token = await new SignJWT({ tenant_id: tenant.id })
      .setProtectedHeader({ alg: 'RS256', kid: 'main' })
      .setSubject(tenant.admin.id)
      .setNotBefore('10m')
      .setExpirationTime('1h')
      .sign(signingKey);
    await expectRefused(token, /not valid yet/);
  });

  it('refuses alg: none', async () => {
    const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const token = `${encode({ alg: 'none', typ: 'JWT' })}.${encode({ tenant_id: tenant.id, sub: tenant.admin.id, exp: 9999999999 })}.`;
    await expectRefused(token, /algorithm|malformed/);
  });

  it('refuses a 100 KB token with a reason, not a bare header error', async () => {
    const token = `${'a'.repeat(50_000)}.${'b'.repeat(50_000)}.c`;
    await expectRefused(token, /longer than 8192/);
  });
});
