import { Counter, Gauge, type Registry } from 'prom-client';
import type { PlanLimitsCache, PlanLimitsCacheObserver } from '../tenancy/plan-limits-cache.js';

/**
 * The plan cache on /metrics (README › Fair share and limits): plan reads by reason, evictions by notice, whether
 * the plan change listener vouches for the notices now, its reconnects, and the entries held. Counted off the
 * request path (reads and notices only); the gauges are read at scrape time.
 */
export class PlanCacheMetrics {
  readonly reads: Counter<'reason'>;
  readonly evictions: Counter<'scope'>;
  readonly listenerReconnects: Counter;
  readonly observer: PlanLimitsCacheObserver;

  constructor(registry: Registry) {
    const registers = [registry];
    this.reads = new Counter({
      name: 'tenantgraph_plan_reads_total',
      help: 'Plan limit reads (one transaction each): a tenant without a cached entry (miss) or an entry past its freshness, re-read in the background (stale).',
      labelNames: ['reason'] as const,
      registers,
    });
    this.evictions = new Counter({
      name: 'tenantgraph_plan_cache_evictions_total',
      help: "Plan cache evictions by a plan change notice: one tenant's entries (tenant), or all of them (all: a plan_limits change, or the listener (re)connected).",
      labelNames: ['scope'] as const,
      registers,
    });
    this.listenerReconnects = new Counter({
      name: 'tenantgraph_plan_listener_reconnects_total',
      help: 'Times the plan change LISTEN connection came up again after a loss or a failed start (the cache is cleared each time).',
      registers,
    });
    for (const reason of ['miss', 'stale']) this.reads.inc({ reason }, 0);
    for (const scope of ['tenant', 'all']) this.evictions.inc({ scope }, 0);
    this.observer = {
      read: (reason) => this.reads.inc({ reason }),
      evicted: (scope) => this.evictions.inc({ scope }),
    };
  }

  /** The gauges of `cache`, read at scrape time. */
  watch(cache: PlanLimitsCache, registry: Registry): void {
    new Gauge({
      name: 'tenantgraph_plan_listener_listening',
      help: 'Whether the plan change listener vouches for the notices now (1: cached plans stay fresh for PLAN_CACHE_LISTENING_TTL_MS; 0: for PLAN_CACHE_TTL_MS).',
      registers: [registry],
      collect() {
        this.set(cache.listening ? 1 : 0);
      },
    });
    new Gauge({
      name: 'tenantgraph_plan_cache_entries',
      help: 'Tenants (by the name their tokens use) with cached plan limits on this server.',
      registers: [registry],
      collect() {
        this.set(cache.size);
      },
    });
  }
}
