import { Gauge, type Registry } from 'prom-client';
import type { FairConnectionScheduler } from '../tenancy/fair-connection-scheduler.js';

/**
 * The fair scheduler's state on /metrics, read at scrape time (no cost per request): how many of its permits are
 * held, how many requests wait for their tenant's turn, and its capacity. Waiting > 0 with permits below capacity
 * means tenants at their share; at capacity, the pool itself is the limit.
 */
export function registerFairShareMetrics(registry: Registry, scheduler: FairConnectionScheduler): void {
  const gauge = (name: string, help: string, read: () => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(read());
      },
    });
  gauge(
    'tenantgraph_fair_share_capacity',
    'Connection permits the fair scheduler hands out at most (pool slots for tenants).',
    () => scheduler.capacity,
  );
  gauge('tenantgraph_fair_share_permits_in_use', 'Connection permits held by request transactions now.', () => scheduler.stats().inUse);
  gauge('tenantgraph_fair_share_waiting', "Requests waiting for their tenant's turn for a connection.", () => scheduler.stats().waiting);
}
