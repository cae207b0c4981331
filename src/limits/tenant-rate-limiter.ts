import { LRUCache } from 'lru-cache';
import type pg from 'pg';
import { RateLimiterMemory, RateLimiterPostgres, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { RateLimitedError } from '../errors/limit-errors.js';
import type { PlanLimits } from '../tenancy/plan-limits.js';

/**
 * Where the request counters live. `memory` (default) counts per process; `postgres` shares them between API
 * replicas through one table (rate-limiter-flexible's RateLimiterPostgres), with a memory limiter as insurance
 * when the store fails, so an outage of the store degrades to per-replica limits instead of refusing requests.
 */
export type RateLimitStore = { readonly kind: 'memory' } | { readonly kind: 'postgres'; readonly pool: pg.Pool; readonly tableName: string };

/**
 * Per-tenant request rate limits from the tenant's plan (rate-limiter-flexible does the counting). Each plan's
 * limit is a window of `burst` requests per `burst / requestsPerSecond` seconds: the sustained rate is the
 * plan's, and a quiet tenant may send up to `burst` at once. Limiters are built per distinct (rate, burst), so a
 * changed plan gets a fresh limiter at once; at most 64 are kept.
 */
export class TenantRateLimiter {
  readonly #limiters = new LRUCache<string, RateLimiterAbstract>({ max: 64 });
  #tableReady: Promise<void> | undefined;

  constructor(private readonly store: RateLimitStore = { kind: 'memory' }) {}

  /** Creates the shared store's table if needed (postgres); a no-op for memory. Throws when the store is unreachable. */
  async ready(): Promise<void> {
    if (this.store.kind !== 'postgres') return;
    const { pool, tableName } = this.store;
    const createTable = () =>
      new Promise<void>((resolve, reject) => {
        new RateLimiterPostgres({ storeClient: pool, tableName, points: 1, duration: 1, clearExpiredByTimeout: false }, (error?: unknown) =>
          error ? reject(error) : resolve(),
        );
      });
    // Replicas starting together race on CREATE TABLE IF NOT EXISTS (the loser fails on the table's row type,
    // 23505 / 42P07 / 42710): the table exists then, and the second attempt sees it.
    this.#tableReady ??= createTable().catch((error: { code?: string }) => {
      if (['23505', '42P07', '42710'].includes(error.code ?? '')) return createTable();
      throw error;
    });
    await this.#tableReady;
  }

  /** Counts one request of `tenantId`; throws {@link RateLimitedError} (with the seconds to wait) when over the plan. */
  async consume(tenantId: string, limits: PlanLimits): Promise<void> {
    try {
      await this.#limiter(limits).consume(tenantId, 1);
    } catch (rejection) {
      if (!(rejection instanceof RateLimiterRes)) throw rejection;
      throw new RateLimitedError(limits.plan, limits.requestsPerSecond, Math.max(1, Math.ceil(rejection.msBeforeNext / 1000)));
    }
  }

  #limiter(limits: PlanLimits): RateLimiterAbstract {
    const key = `${limits.requestsPerSecond}/${limits.burst}`;
    let limiter = this.#limiters.get(key);
    if (!limiter) {
      const options = { points: limits.burst, duration: limits.burst / limits.requestsPerSecond, keyPrefix: `tg_rate_${key.replace('/', '_')}` };
      const memory = new RateLimiterMemory(options);
      limiter =
        this.store.kind === 'postgres'
          ? new RateLimiterPostgres({
              ...options,
              storeClient: this.store.pool,
              tableName: this.store.tableName,
              tableCreated: true,
              clearExpiredByTimeout: false,
              insuranceLimiter: memory,
            })
          : memory;
      this.#limiters.set(key, limiter);
    }
    return limiter;
  }
}
