import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { RateLimitedError } from '../../src/errors/limit-errors.js';
import { TenantRateLimiter } from '../../src/limits/tenant-rate-limiter.js';
import type { PlanLimits } from '../../src/tenancy/plan-limits.js';

const plan = (burst: number): PlanLimits => ({
  plan: 'tiny',
  requestsPerSecond: 1,
  burst,
  connectionShare: 0.25,
  statementTimeoutMs: 1000,
  requestTimeoutMs: 1000,
});

/** Outcome of each consume: 'ok' or the seconds RateLimitedError says to wait. */
async function attempt(limiter: TenantRateLimiter, tenantId: string, limits: PlanLimits): Promise<'ok' | number> {
  try {
    await limiter.consume(tenantId, limits);
    return 'ok';
  } catch (error) {
    if (error instanceof RateLimitedError) return error.extensions.retryAfterSeconds as number;
    throw error;
  }
}

describe('TenantRateLimiter (memory store, the default)', () => {
  it("allows a plan's burst per tenant, then refuses with the seconds to wait; tenants do not share counters", async () => {
    const limiter = new TenantRateLimiter();
    const results = [];
    for (let i = 0; i < 4; i++) results.push(await attempt(limiter, '11', plan(3)));
    expect(results.slice(0, 3)).toEqual(['ok', 'ok', 'ok']);
    expect(results[3]).toBeGreaterThanOrEqual(1);
    expect(await attempt(limiter, '12', plan(3))).toBe('ok');
  });

  it('counts per process: two replicas with memory stores each allow the whole burst', async () => {
    const [a, b] = [new TenantRateLimiter(), new TenantRateLimiter()];
    expect([
      await attempt(a, '21', plan(2)),
      await attempt(b, '21', plan(2)),
      await attempt(a, '21', plan(2)),
      await attempt(b, '21', plan(2)),
    ]).toEqual(['ok', 'ok', 'ok', 'ok']);
  });
});

// The shared store: the test database's server, as a role that may create the limiter's table (the owner). The
// test database always exists (embedded or TEST_DATABASE_URL), so this runs in every suite run.
describe('TenantRateLimiter (postgres store shared by replicas)', () => {
  let pool: pg.Pool;
  const tableName = `rate_limits_test_${process.pid}`;
  beforeAll(() => {
    pool = new pg.Pool({ connectionString: inject('ownerUrl'), max: 2 });
  });
  afterAll(async () => {
    await pool.query(`drop table if exists "${tableName}"`);
    await pool.end();
  });

  it('shares one budget between two replicas: the burst holds across both', async () => {
    const a = new TenantRateLimiter({ kind: 'postgres', pool, tableName });
    const b = new TenantRateLimiter({ kind: 'postgres', pool, tableName });
    await Promise.all([a.ready(), b.ready()]);
    const tenant = String(Date.now());
    const results = [await attempt(a, tenant, plan(2)), await attempt(b, tenant, plan(2)), await attempt(a, tenant, plan(2))];
    expect(results.slice(0, 2)).toEqual(['ok', 'ok']);
    expect(results[2]).toBeGreaterThanOrEqual(1);
    const { rows } = await pool.query(`select count(*)::int as n from "${tableName}" where key like $1`, [`%${tenant}`]);
    expect(rows[0].n).toBe(1);
  });
});
