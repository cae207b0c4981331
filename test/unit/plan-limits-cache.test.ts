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
    expect(reads).toEqual(['1']);
    now += 2;
    // Stale: this request still runs under the old plan without waiting, and the re-read starts.
    expect((await cached('1')).plan).toBe('free');
    await new Promise((resolve) => setImmediate(resolve));
    expect((await cached('1')).plan).toBe('enterprise');
    expect(reads).toEqual(['1', '1']);
  });

  it('drops an entry whose re-read failed, so the next request reads (and fails or succeeds) itself', async () => {
    // Not 0: lru-cache takes an entry stored at time 0 for one without a start, never stale.
    let now = 1_000;
    let failing = false;
    const reads: string[] = [];
    const cached = cachedPlanLimits(
      async (tenantId) => {
        reads.push(tenantId);
        if (failing) throw new Error('tenant gone');
        return limits('standard');
      },
      { ttlMs: 1000, maxTenants: 10, now: () => now },
    );
    await cached('5');
    failing = true;
    now += 1001;
    expect((await cached('5')).plan).toBe('standard');
    await new Promise((resolve) => setImmediate(resolve));
    await expect(cached('5')).rejects.toThrow('tenant gone');
    expect(reads).toEqual(['5', '5', '5']);
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
