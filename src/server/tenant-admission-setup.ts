import { createAppDatabase, type AppDatabase } from '../db/kysely.js';
import { createPool } from '../db/pool.js';
import type pg from 'pg';
import { TenantRateLimiter } from '../limits/tenant-rate-limiter.js';
import { FairConnectionScheduler } from '../tenancy/fair-connection-scheduler.js';
import { cachedPlanLimits, DEFAULT_PLAN_CACHE_TTL_MS, planLimitsFromDatabase } from '../tenancy/plan-limits.js';
import { TenantAdmission } from '../tenancy/tenant-admission.js';

/** How tenants share the server (issue 8 §1); every field has a default. */
export interface FairShareOptions {
  /**
   * Pool connections kept out of the fair scheduler for the server's own work. Default 0: tenants wait in the
   * scheduler, never in the pool's own queue, so the server's bookkeeping (plan lookups, /ready) waits at most
   * for the next connection to come free, not behind tenant traffic.
   */
  reservedConnections?: number;
  /** Connections each tenant may hold at once, overriding every plan's share; the pool size turns fairness off. */
  connectionsPerTenant?: number;
  /** Default 5000; 0 reads the plan on every request. */
  planCacheTtlMs?: number;
  /** Default memory. */
  rateLimitStore?: { kind: 'memory' } | { kind: 'postgres'; url: string };
  /** Default true. Tools and tests that measure something else may switch the rate limit off. */
  rateLimit?: boolean;
}

/**
 * Builds the admission gate of request transactions over the app pool: a fair scheduler over the pool's tenant
 * slots, plan limits read (and cached) on an unobserved Kysely instance of the same pool, and the rate limiter
 * with its store. `requests`: the request database's tenant-context mode and external tenant ids, which the plan
 * lookups share. `close()` ends what it opened (the shared rate limit store's pool).
 */
export async function setUpTenantAdmission(
  pool: pg.Pool,
  poolMax: number,
  waitTimeoutMs: number,
  options: FairShareOptions = {},
  requests?: Pick<AppDatabase, 'tenantContext' | 'externalTenantIds'>,
): Promise<{ admission: TenantAdmission; scheduler: FairConnectionScheduler; close(): Promise<void> }> {
  const reserved = options.reservedConnections ?? 0;
  if (reserved >= poolMax) throw new RangeError(`reservedConnections (${reserved}) must be less than the pool size (${poolMax})`);
  const scheduler = new FairConnectionScheduler({ capacity: poolMax - reserved });
  // Its statements are the server's bookkeeping, not the request's: not counted as the request's statements. In the
  // requests' tenant-context mode (Citus: SET LOCAL), sharing their external tenant ids, so a token's first plan
  // lookup also finds the tenant id its request then uses.
  const lookups = createAppDatabase(pool, undefined, {
    ...(requests?.tenantContext ? { tenantContext: requests.tenantContext } : {}),
    ...(requests?.externalTenantIds ? { externalTenantIds: requests.externalTenantIds } : {}),
  });
  const readPlan = planLimitsFromDatabase(lookups, Math.max(1000, waitTimeoutMs));
  // Cache misses (every tenant after a restart) take pool connections outside the tenants' scheduler: at most
  // two at a time, round-robin across tenants, so a cold start cannot queue a crowd of lookups in the pool's
  // FIFO ahead of admitted transactions.
  const lookupSlots = new FairConnectionScheduler({ capacity: Math.min(2, poolMax) });
  const boundedReadPlan = async (tenantId: string) => {
    const permit = await lookupSlots.acquire(tenantId, { share: 1, timeoutMs: waitTimeoutMs });
    try {
      return await readPlan(tenantId);
    } finally {
      permit.release();
    }
  };
  const planLimits = cachedPlanLimits(boundedReadPlan, {
    ttlMs: options.planCacheTtlMs ?? DEFAULT_PLAN_CACHE_TTL_MS,
    maxTenants: 10_000,
  });
  const storeOption = options.rateLimitStore ?? { kind: 'memory' };
  const storePool =
    storeOption.kind === 'postgres'
      ? createPool({ connectionString: storeOption.url, max: 2, applicationName: 'tenantgraph-rate-limit' })
      : undefined;
  const rateLimiter =
    options.rateLimit === false
      ? undefined
      : new TenantRateLimiter(storePool ? { kind: 'postgres', pool: storePool, tableName: 'tenantgraph_rate_limits' } : { kind: 'memory' });
  try {
    await rateLimiter?.ready();
  } catch (error) {
    await storePool?.end();
    throw error;
  }
  const admission = new TenantAdmission({
    scheduler,
    planLimits,
    ...(rateLimiter ? { rateLimiter } : {}),
    waitTimeoutMs,
    ...(options.connectionsPerTenant ? { shareOverride: Math.min(options.connectionsPerTenant, scheduler.capacity) } : {}),
  });
  return { admission, scheduler, close: async () => void (await storePool?.end()) };
}
