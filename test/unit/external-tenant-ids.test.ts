import { describe, expect, it } from 'vitest';
import { ExternalTenantIds, MAX_ENTRIES } from '../../src/tenancy/external-tenant-ids.js';

describe('ExternalTenantIds', () => {
  it('holds at most MAX_ENTRIES external ids, dropping the least recently used first', () => {
    const remembered = new ExternalTenantIds();
    remembered.remember('org_first', '1');
    for (let i = 0; i < MAX_ENTRIES + 5; i++) {
      remembered.remember(`org_${i}`, String(i + 2));
      if (i % 1000 === 0) expect(remembered.get('org_first')).toBe('1'); // used: kept while others arrive
    }
    expect(remembered.size).toBe(MAX_ENTRIES);
    expect(remembered.get('org_0')).toBeUndefined();
    expect(remembered.get(`org_${MAX_ENTRIES + 4}`)).toBe(String(MAX_ENTRIES + 6));
  });

  it('forgets an entry on request', () => {
    const remembered = new ExternalTenantIds();
    remembered.remember('org_a', '42');
    remembered.forget('org_a');
    expect(remembered.get('org_a')).toBeUndefined();
  });

  it('refuses what is not an external id and a tenant id, so nothing it holds could break the prologue literal', () => {
    const remembered = new ExternalTenantIds();
    expect(() => remembered.remember("org_a'", '42')).toThrow(TypeError);
    expect(() => remembered.remember('12345', '42')).toThrow(TypeError);
    expect(() => remembered.remember('org_a', "42'; drop table users; --")).toThrow(TypeError);
    expect(remembered.size).toBe(0);
  });
});
