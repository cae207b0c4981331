import { DEFAULT_QUERY_LIMITS } from '../../src/config/env.js';
import { TEXT_SEARCH_COST } from '../../src/server/plugins/query-cost.js';
import { percentile, runLoad, type LoadResult } from './load.js';
import { requestGenerator, type HttpRequest, type TenantTarget } from './workloads.js';

/**
 * The noisy-neighbour run (issue 8 §5): one tenant floods with the heaviest requests the limits allow while
 * victim tenants send a steady Q1/Q2 mix. Pure load and arithmetic; bench/run.ts starts the servers.
 */

/**
 * The heaviest request the default limits admit: aliased tenant-wide `titleContains` scans with `totalCount`
 * (issue 8 starved the pool with 15 of them; a search now costs TEXT_SEARCH_COST, so four fit under the default
 * cost limit — README › Limits).
 */
export const FLOOD_SEARCHES = Math.floor(DEFAULT_QUERY_LIMITS.maxCost / (TEXT_SEARCH_COST + 10));
export const FLOOD_DOCUMENT = `query Flood {\n${Array.from(
  { length: FLOOD_SEARCHES },
  (_, i) => `  s${i}: conversations(filter: { titleContains: "zq${i}" }) { totalCount }`,
).join('\n')}\n}`;

export function floodRequest(flooder: TenantTarget): () => HttpRequest {
  const body = JSON.stringify({ query: FLOOD_DOCUMENT });
  return () => ({ path: '/graphql', body, authorization: flooder.authorization });
}

/** Q1 and Q2 in turn, each for a victim picked uniformly (deterministic for a seed). */
export function victimRequests(victims: readonly TenantTarget[], seed: number): () => HttpRequest {
  const q1 = requestGenerator('Q1', 'graphql', victims, 'uniform', seed);
  const q2 = requestGenerator('Q2', 'graphql', victims, 'uniform', seed ^ 0x9e3779b9);
  let turn = 0;
  return () => (turn++ % 2 === 0 ? q1() : q2());
}

export interface PhaseResult {
  victims: { reqPerSec: number; p50Ms: number; p95Ms: number; p99Ms: number; errors: number; failures: number };
  flooder: { reqPerSec: number; okPerSec: number; errors: number; failures: number } | null;
  health: { probes: number; failures: number } | null;
}

/** Polls GET /health every 100 ms until `stop`; a probe fails on a non-200 or no answer within 2 s. */
async function pollHealth(port: number, stop: Promise<unknown>): Promise<{ probes: number; failures: number }> {
  let done = false;
  void stop.finally(() => (done = true));
  let probes = 0;
  let failures = 0;
  while (!done) {
    probes++;
    try {
      const response = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(2000) });
      await response.arrayBuffer();
      if (response.status !== 200) failures++;
    } catch {
      failures++;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { probes, failures };
}

/** One phase on one server: victims for `seconds`, with the flood and the /health poller when `flood` is given. */
export async function runPhase(options: {
  port: number;
  seconds: number;
  victimConnections: number;
  victims: () => HttpRequest;
  flood?: { connections: number; next: () => HttpRequest };
}): Promise<PhaseResult> {
  const flood = options.flood
    ? runLoad({ port: options.port, seconds: options.seconds, connections: options.flood.connections, next: options.flood.next })
    : undefined;
  const victims = runLoad({ port: options.port, seconds: options.seconds, connections: options.victimConnections, next: options.victims });
  const health = flood ? pollHealth(options.port, Promise.all([victims, flood])) : undefined;
  const [victimLoad, floodLoad, healthResult] = await Promise.all([victims, flood, health]);
  return {
    victims: summarize(victimLoad),
    flooder: floodLoad
      ? {
          reqPerSec: floodLoad.responses / floodLoad.seconds,
          okPerSec: (floodLoad.responses - floodLoad.errors) / floodLoad.seconds,
          errors: floodLoad.errors,
          failures: floodLoad.failures,
        }
      : null,
    health: healthResult ?? null,
  };
}

function summarize(load: LoadResult): PhaseResult['victims'] {
  const sorted = [...load.latenciesMs].sort((a, b) => a - b);
  return {
    reqPerSec: load.responses / load.seconds,
    p50Ms: percentile(sorted, 50),
    p95Ms: percentile(sorted, 95),
    p99Ms: percentile(sorted, 99),
    errors: load.errors,
    failures: load.failures,
  };
}
