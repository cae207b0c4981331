import { describe, expect, it } from 'vitest';
import type { PlanLimits } from '../../src/tenancy/plan-limits.js';
import { PlanLimitsCache } from '../../src/tenancy/plan-limits-cache.js';

const limits = (plan: string, tenantId?: string): PlanLimits => ({
  plan,
  requestsPerSecond: 10,
  burst: 20,
  connectionShare: 0.25,
  statementTimeoutMs: 1000,
  requestTimeoutMs: 2000,
  ...(tenantId ? { tenantId } : {}),
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

const settle = () => new Promise((resolve) => setImmediate(resolve));

function cachedPlanLimits(source: (tenantId: string) => Promise<PlanLimits>, options: ConstructorParameters<typeof PlanLimitsCache>[1]) {
  return new PlanLimitsCache(source, options).limitsOf;
}

describe('PlanLimitsCache without a listener', () => {
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
    await settle();
    expect((await cached('1')).plan).toBe('enterprise');
    expect(reads).toEqual(['1', '1']);
  });

  it('drops an entry whose re-read failed, so the next request reads (and fails or succeeds) itself', async () => {
    let now = 1_000;
    let failing = false;
    const reads: string[] = [];
    const cached = cachedPlanLimits(
      async (tenantId: string) => {
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
    await settle();
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

  it('reads on every call when the TTL is 0, whatever the listener says', async () => {
    const { reads, source } = countingSource(new Map());
    const cache = new PlanLimitsCache(source, { ttlMs: 0, listeningTtlMs: 600_000, maxTenants: 2 });
    cache.listenerConnected(performance.now());
    await cache.limitsOf('1');
    await cache.limitsOf('1');
    expect(reads).toEqual(['1', '1']);
    expect(cache.enabled).toBe(false);
  });

  it('ignores the listening TTL while no listener ever confirmed', async () => {
    let now = 1_000;
    const { reads, source } = countingSource(new Map());
    const cache = new PlanLimitsCache(source, { ttlMs: 1000, listeningTtlMs: 600_000, maxTenants: 10, now: () => now });
    await cache.limitsOf('1');
    now += 1001;
    await cache.limitsOf('1');
    await settle();
    expect(reads).toEqual(['1', '1']);
  });
});

describe('PlanLimitsCache with a listener', () => {
  /** A cache whose listener confirmed just now, at time 1000. */
  function listening(options: { ttlMs?: number; listeningTtlMs?: number } = {}) {
    const clock = { now: 1_000 };
    const plans = new Map<string, string>();
    const { reads, source } = countingSource(plans);
    const cache = new PlanLimitsCache(source, {
      ttlMs: options.ttlMs ?? 1000,
      listeningTtlMs: options.listeningTtlMs ?? 60_000,
      maxTenants: 10,
      now: () => clock.now,
    });
    cache.listenerConnected(clock.now);
    return { clock, plans, reads, cache };
  }

  it('keeps an entry fresh for the listening TTL while the listener keeps confirming, then re-reads it', async () => {
    const { clock, reads, cache } = listening();
    await cache.limitsOf('1');
    for (let t = 0; t < 59; t++) {
      clock.now += 1000;
      cache.listenerConfirmed(clock.now - 100);
      await cache.limitsOf('1');
    }
    await settle();
    expect(reads).toEqual(['1']);
    expect(cache.listening).toBe(true);
    clock.now += 1001;
    cache.listenerConfirmed(clock.now - 100);
    await cache.limitsOf('1');
    await settle();
    expect(reads).toEqual(['1', '1']);
  });

  it('falls back to the short TTL as soon as the listener is lost', async () => {
    const { clock, reads, cache } = listening();
    await cache.limitsOf('1');
    clock.now += 5000;
    cache.listenerConfirmed(clock.now);
    await cache.limitsOf('1');
    await settle();
    expect(reads).toEqual(['1']);
    cache.listenerLost();
    expect(cache.listening).toBe(false);
    // Five seconds old against a short TTL of one: stale, served once more while it is re-read.
    await cache.limitsOf('1');
    await settle();
    expect(reads).toEqual(['1', '1']);
  });

  it('falls back to the short TTL when the listener stops confirming (a connection that died silently)', async () => {
    const { clock, reads, cache } = listening();
    await cache.limitsOf('1');
    clock.now += 999;
    await cache.limitsOf('1');
    await settle();
    expect(reads).toEqual(['1']);
    // No confirmation for 1000 ms = the short TTL: the notices are no longer vouched for.
    clock.now += 1;
    expect(cache.listening).toBe(false);
    await cache.limitsOf('1');
    await settle();
    expect(reads).toEqual(['1', '1']);
  });

  it("evicts exactly the named tenant's entry, so its next call reads and waits for the new plan", async () => {
    const { plans, reads, cache } = listening();
    plans.set('1', 'free');
    plans.set('2', 'free');
    await cache.limitsOf('1');
    await cache.limitsOf('2');
    plans.set('1', 'enterprise');
    cache.evictTenant('1');
    expect(cache.has('1')).toBe(false);
    expect(cache.has('2')).toBe(true);
    expect((await cache.limitsOf('1')).plan).toBe('enterprise');
    expect((await cache.limitsOf('2')).plan).toBe('free');
    expect(reads).toEqual(['1', '2', '1']);
  });

  it('evicts the entries a tenant has under its external ids too', async () => {
    const clock = { now: 1_000 };
    const reads: string[] = [];
    const cache = new PlanLimitsCache(
      async (name: string) => {
        reads.push(name);
        return limits('standard', name === 'org_a' ? '7' : name);
      },
      { ttlMs: 1000, listeningTtlMs: 60_000, maxTenants: 10, now: () => clock.now },
    );
    cache.listenerConnected(clock.now);
    await cache.limitsOf('org_a');
    await cache.limitsOf('7');
    await cache.limitsOf('8');
    cache.evictTenant('7');
    expect([cache.has('org_a'), cache.has('7'), cache.has('8')]).toEqual([false, false, true]);
  });

  it('evicts every entry on a notice for all tenants, and when the listener (re)connects', async () => {
    const { clock, reads, cache } = listening();
    await cache.limitsOf('1');
    await cache.limitsOf('2');
    cache.evictAll();
    expect(cache.size).toBe(0);
    await cache.limitsOf('1');
    await cache.limitsOf('2');
    cache.listenerLost();
    cache.listenerConnected(clock.now);
    expect(cache.size).toBe(0);
    expect(cache.listening).toBe(true);
    expect(reads).toEqual(['1', '2', '1', '2']);
  });

  it('does not keep a read that an eviction overtook, and a call after the eviction does not join it', async () => {
    const pending: { name: string; resolve: (limits: PlanLimits) => void }[] = [];
    const slow = new PlanLimitsCache((name: string) => new Promise<PlanLimits>((resolve) => pending.push({ name, resolve })), {
      ttlMs: 1000,
      listeningTtlMs: 60_000,
      maxTenants: 10,
      now: () => 1_000,
    });
    slow.listenerConnected(1_000);
    const before = slow.limitsOf('3');
    // The read began before the change committed; its notice arrives while the read is in flight.
    slow.evictTenant('3');
    const after = slow.limitsOf('3');
    expect(pending.map((p) => p.name)).toEqual(['3', '3']);
    pending[0]!.resolve(limits('free'));
    expect((await before).plan).toBe('free');
    expect(slow.has('3')).toBe(false);
    pending[1]!.resolve(limits('enterprise'));
    expect((await after).plan).toBe('enterprise');
    expect(slow.has('3')).toBe(true);
    expect((await slow.limitsOf('3')).plan).toBe('enterprise');
  });
});
