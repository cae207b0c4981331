import { createAppDatabase, type AppDatabase } from '../db/kysely.js';
import { createPool } from '../db/pool.js';
import type pg from 'pg';
import { TenantRateLimiter } from '../limits/tenant-rate-limiter.js';
import { FairConnectionScheduler } from '../tenancy/fair-connection-scheduler.js';
import type { Registry } from 'prom-client';
import { PlanCacheMetrics } from '../observability/plan-cache-metrics.js';
import { PlanChangeListener } from '../tenancy/plan-change-listener.js';
import { DEFAULT_PLAN_CACHE_TTL_MS, planLimitsFromDatabase } from '../tenancy/plan-limits.js';
import { DEFAULT_PLAN_CACHE_LISTENING_TTL_MS, PlanLimitsCache } from '../tenancy/plan-limits-cache.js';
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
  /**
   * PLAN_CACHE_TTL_MS: how long cached plan limits are fresh while no plan change listener vouches for the
   * notices (none configured, not connected, reconnecting). Default 30000; 0 reads the plan on every request.
   */
  planCacheTtlMs?: number;
  /**
   * PLAN_LISTEN_DATABASE_URL: a direct (session) connection to PostgreSQL as the app role that LISTENs for plan
   * changes (migrations/0021; not through PgBouncer's transaction mode). Default none: the short freshness only.
   */
  planListenUrl?: string | null;
  /** PLAN_CACHE_LISTENING_TTL_MS: the freshness while the listener vouches. Default 600000 (plan-limits-cache.ts). */
  planCacheListeningTtlMs?: number;
  /** Default memory. */
  rateLimitStore?: { kind: 'memory' } | { kind: 'postgres'; url: string };
  /** Default true. Tools and tests that measure something else may switch the rate limit off. */
  rateLimit?: boolean;
}

/**
 * Builds the admission gate of request transactions over the app pool: a fair scheduler over the pool's tenant
 * slots, plan limits read (and cached) on an unobserved Kysely instance of the same pool, and the rate limiter
 * with its store. `requests`: the request database's tenant-context mode and external tenant ids, which the plan
 * lookups share. With `planListenUrl`, a plan change listener evicts cached plans as changes commit and lets them
 * stay fresh longer while it vouches for the notices (plan-limits-cache.ts). `services`: the metrics registry and
 * logger. `close()` ends what it opened (the listener, the shared rate limit store's pool).
 */
export async function setUpTenantAdmission(
  pool: pg.Pool,
  poolMax: number,
  waitTimeoutMs: number,
  options: FairShareOptions = {},
  requests?: Pick<AppDatabase, 'tenantContext' | 'externalTenantIds'>,
  services: { registry?: Registry; logger?: PlanListenerLogger } = {},
): Promise<TenantAdmissionSetup> {
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
  const ttlMs = options.planCacheTtlMs ?? DEFAULT_PLAN_CACHE_TTL_MS;
  const metrics = services.registry ? new PlanCacheMetrics(services.registry) : undefined;
  const planCache = new PlanLimitsCache(boundedReadPlan, {
    ttlMs,
    listeningTtlMs: options.planCacheListeningTtlMs ?? DEFAULT_PLAN_CACHE_LISTENING_TTL_MS,
    maxTenants: 10_000,
    ...(metrics ? { observer: metrics.observer } : {}),
  });
  if (metrics && services.registry) metrics.watch(planCache, services.registry);
  // No cache (PLAN_CACHE_TTL_MS=0): nothing to evict, so nothing to listen for.
  const planListener =
    options.planListenUrl && planCache.enabled
      ? new PlanChangeListener({
          url: options.planListenUrl,
          // A third of the short freshness (at most 10 s, at least 100 ms): two heartbeats may be late before
          // the cache stops trusting the notices. One `select 1` per 10 s per server at the default.
          heartbeatMs: Math.min(10_000, Math.max(100, Math.floor(ttlMs / 3))),
          onChange: (tenantId) => (tenantId === null ? planCache.evictAll() : planCache.evictTenant(tenantId)),
          onConnected: (at) => {
            if (planListener?.reconnects) metrics?.listenerReconnects.inc();
            planCache.listenerConnected(at);
          },
          onConfirmed: (at) => planCache.listenerConfirmed(at),
          onLost: () => planCache.listenerLost(),
          ...(services.logger ? { logger: services.logger } : {}),
        })
      : undefined;
  const planLimits = planCache.limitsOf;
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
  // Never rejects: without it the cache keeps the short freshness (plan-change-listener.ts).
  await planListener?.start();
  const admission = new TenantAdmission({
    scheduler,
    planLimits,
    ...(rateLimiter ? { rateLimiter } : {}),
    waitTimeoutMs,
    ...(options.connectionsPerTenant ? { shareOverride: Math.min(options.connectionsPerTenant, scheduler.capacity) } : {}),
  });
  return {
    admission,
    scheduler,
    planCache,
    planListener,
    close: async () => {
      await planListener?.close();
      await storePool?.end();
    },
  };
}

export interface TenantAdmissionSetup {
  admission: TenantAdmission;
  scheduler: FairConnectionScheduler;
  /** The tenants' cached plan limits (tests look at its entries). */
  planCache: PlanLimitsCache;
  /** The plan change listener, when `planListenUrl` is set and the cache is on (tests cut its connection). */
  planListener: PlanChangeListener | undefined;
  close(): Promise<void>;
}

type PlanListenerLogger = {
  warn(details: Record<string, unknown>, message: string): void;
  info(details: Record<string, unknown>, message: string): void;
};
