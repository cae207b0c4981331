import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTokenVerifier } from '../../src/auth/token-verifier.js';
import { issueToken } from '../../src/auth/token-issuer.js';
import { TEST_JWT_SECRET } from '../support/server.js';

const bearer = (token: string) => `Bearer ${token}`;

describe('createTokenVerifier clock tolerance (JWT_CLOCK_TOLERANCE_S)', () => {
  it('accepts a token that expired within the tolerance, and refuses it without one', async () => {
    const issuedAt = Math.floor(Date.now() / 1000) - 120;
    const token = await new SignJWT({ tenant_id: '42' })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('auth0|someone')
      .setIssuedAt(issuedAt)
      .setExpirationTime(issuedAt + 110) // expired 10 s ago
      .sign(new TextEncoder().encode(TEST_JWT_SECRET));
    const strict = createTokenVerifier({ secret: TEST_JWT_SECRET, tenantClaim: 'tenant_id' });
    await expect(strict(bearer(token))).rejects.toThrow(/Token has expired/);
    const tolerant = createTokenVerifier({ secret: TEST_JWT_SECRET, tenantClaim: 'tenant_id', clockToleranceSeconds: 30 });
    await expect(tolerant(bearer(token))).resolves.toEqual({ tenantId: '42', userId: 'auth0|someone' });
  });
});

describe('createTokenVerifier claim paths', () => {
  it('reads the tenant and the subject where JWT_TENANT_CLAIM and JWT_SUBJECT_CLAIM say, as issueToken writes them', async () => {
    const token = await issueToken({ secret: TEST_JWT_SECRET, tenantId: 'org_2abc', userId: 'oid-1234', tenantClaim: 'org.id', subjectClaim: 'oid' });
    const verify = createTokenVerifier({ secret: TEST_JWT_SECRET, tenantClaim: 'org.id', subjectClaim: 'oid' });
    await expect(verify(bearer(token))).resolves.toEqual({ tenantId: 'org_2abc', userId: 'oid-1234' });
  });
});

describe('OpenID Connect discovery checks', () => {
  let server: Server;
  let base: string;
  let document: Record<string, unknown> = {};
  beforeAll(async () => {
    server = createServer((req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(req.url === '/.well-known/openid-configuration' ? document : { keys: [] }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  /** An RS256 token whose key the test provider does not publish (its JWKS is empty). */
  const rs256Token = async () =>
    new SignJWT({ tenant_id: '1' })
      .setProtectedHeader({ alg: 'RS256', kid: 'unpublished' })
      .setSubject('x')
      .setExpirationTime('1h')
      .sign((await generateKeyPair('RS256')).privateKey);

  it('refuses a discovery document that names another issuer, as SERVICE_UNAVAILABLE, and tries again on the next request', async () => {
    document = { issuer: 'https://evil.example', jwks_uri: `${base}/jwks` };
    const verify = createTokenVerifier({ issuer: base, tenantClaim: 'tenant_id' });
    const token = await rs256Token();
    await expect(verify(bearer(token))).rejects.toMatchObject({
      extensions: { code: 'SERVICE_UNAVAILABLE' },
      message: expect.stringMatching(/names the issuer "https:\/\/evil.example", expected exactly/),
    });
    document = { issuer: base, jwks_uri: `${base}/jwks` };
    // Discovery succeeds now; the token is refused for its key, which the (empty) key set does not have.
    await expect(verify(bearer(token))).rejects.toThrow(/unknown key \(kid\)/);
  });

  it('refuses a plain-http jwks_uri on another host', async () => {
    document = { issuer: base, jwks_uri: 'http://keys.example/jwks' };
    const verify = createTokenVerifier({ issuer: base, tenantClaim: 'tenant_id' });
    // The issuer is loopback http itself, so a loopback http jwks_uri passes (the tests' provider); a remote http one never does.
    await expect(verify(bearer(await rs256Token()))).rejects.toMatchObject({
      extensions: { code: 'SERVICE_UNAVAILABLE' },
      message: expect.stringMatching(/jwks_uri http:\/\/keys.example\/jwks is not https/),
    });
  });
});
