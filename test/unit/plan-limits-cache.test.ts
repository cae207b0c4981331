import { describe, expect, it } from 'vitest';
import { cachedPlanLimits, type PlanLimits } from '../../src/tenancy/plan-limits.js';

const limits = (plan: string): PlanLimits => ({
  plan,
  requestsPerSecond: 10,
  burst: 20,
  connectionShare: 0.25,
  statementTimeoutMs: 1000,
  requestTimeoutMs: 2000,
});

/** A source that answers from a mutable table of plans and counts its reads. */
function countingSource(plans: Map<string, string>) {
  const reads: string[] = [];
  return {
    reads,
    source: async (tenantId: string) => {
      reads.push(tenantId);
      return limits(plans.get(tenantId) ?? 'none');
    },
  };
}

describe('cachedPlanLimits', () => {
  it('reads a tenant once within the TTL and again after it, so a plan change shows up without a restart', async () => {
    let now = 1_000;
    const plans = new Map([['1', 'free']]);
    const { reads, source } = countingSource(plans);
    const cached = cachedPlanLimits(source, { ttlMs: 5000, maxTenants: 10, now: () => now });
    expect((await cached('1')).plan).toBe('free');
    plans.set('1', 'enterprise');
    now += 4999;
    expect((await cached('1')).plan).toBe('free');
    now += 2;
    expect((await cached('1')).plan).toBe('enterprise');
    expect(reads).toEqual(['1', '1']);
  });

  it('shares one read among concurrent misses of a tenant', async () => {
    const { reads, source } = countingSource(new Map());
    const cached = cachedPlanLimits(source, { ttlMs: 5000, maxTenants: 10, now: () => 0 });
    await Promise.all([cached('7'), cached('7'), cached('7')]);
    expect(reads).toEqual(['7']);
  });

  it('keeps at most maxTenants entries (the least recently used goes)', async () => {
    const { reads, source } = countingSource(new Map());
    const cached = cachedPlanLimits(source, { ttlMs: 60_000, maxTenants: 2, now: () => 0 });
    for (const tenant of ['1', '2', '3', '1']) await cached(tenant);
    expect(reads).toEqual(['1', '2', '3', '1']);
  });

  it('reads on every call when the TTL is 0', async () => {
    const { reads, source } = countingSource(new Map());
    const cached = cachedPlanLimits(source, { ttlMs: 0, maxTenants: 2 });
    await cached('1');
    await cached('1');
    expect(reads).toEqual(['1', '1']);
  });
});
