import { describe, expect, it } from 'vitest';
import { parseClaimPath, readClaim } from '../../src/auth/claim-path.js';
import { loadEnv } from '../../src/config/env.js';

describe('parseClaimPath', () => {
  it.each([
    ['tenant_id', ['tenant_id']],
    ['org.id', ['org', 'id']],
    ['custom:tenant_id', ['custom:tenant_id']],
    ['https://example.com/tenant', ['https://example.com/tenant']],
    ['http://example.com/claims/org.id', ['http://example.com/claims/org.id']],
    ['["https://example.com/claims"].org.id', ['https://example.com/claims', 'org', 'id']],
    ['o["id"]', ['o', 'id']],
    ['["a.b"]["c"]', ['a.b', 'c']],
  ])('reads %s as %j', (text, keys) => {
    expect(parseClaimPath(text)).toEqual(keys);
  });

  it.each([['org.'], ['.org'], ['org..id'], ['[id]'], ['["unterminated'], ['[""]'], ['org]x']])('refuses %s, naming the problem', (text) => {
    expect(() => parseClaimPath(text)).toThrow(/claim path/);
  });

  it('is checked at boot: a bad JWT_TENANT_CLAIM is a configuration error', () => {
    expect(() => loadEnv({ JWT_TENANT_CLAIM: 'org..id' })).toThrow(/JWT_TENANT_CLAIM: claim path "org..id"/);
  });
});

describe('readClaim', () => {
  const claims = {
    tenant_id: '42',
    org: { id: 'org_2abc', role: 'admin' },
    'https://example.com/tenant': 'org_url',
    organization: ['acme'],
    several: ['a', 'b'],
    numbers: [1],
  };

  it('follows nested and URL-named keys', () => {
    expect(readClaim(claims, parseClaimPath('org.id'))).toBe('org_2abc');
    expect(readClaim(claims, parseClaimPath('https://example.com/tenant'))).toBe('org_url');
    expect(readClaim(claims, parseClaimPath('tenant_id'))).toBe('42');
  });

  it('takes a list of exactly one string as that string, and leaves other lists as lists', () => {
    expect(readClaim(claims, ['organization'])).toBe('acme');
    expect(readClaim(claims, ['several'])).toEqual(['a', 'b']);
    expect(readClaim(claims, ['numbers'])).toEqual([1]);
  });

  it('finds nothing outside own properties', () => {
    expect(readClaim(claims, ['org', 'missing'])).toBeUndefined();
    expect(readClaim(claims, ['tenant_id', 'length'])).toBeUndefined();
    expect(readClaim(claims, ['__proto__'])).toBeUndefined();
    expect(readClaim(claims, ['org', 'constructor'])).toBeUndefined();
  });
});
