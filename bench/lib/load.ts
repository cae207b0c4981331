import autocannon from 'autocannon';
import type { HttpRequest } from './workloads.js';

export interface LoadResult {
  /** Completed responses. */
  responses: number;
  /** Seconds the run actually lasted. */
  seconds: number;
  /** Response times in ms, one per response. */
  latenciesMs: number[];
  /** Responses that are not `{"data": ...}` without errors (non-2xx ones included). */
  errors: number;
  /** Of those, non-2xx responses. */
  non2xx: number;
  /** Connection errors and timeouts. */
  failures: number;
}

/**
 * Drives one server with autocannon over loopback: `connections` keep-alive connections, each sending its next
 * request as soon as the previous answer arrived (closed loop, fixed concurrency), for `seconds`. Every request
 * body comes from `next()` (autocannon's per-request `setupRequest`). Each response time is kept, so
 * percentiles can be computed over several runs together.
 */
export async function runLoad(options: { port: number; seconds: number; connections: number; next: () => HttpRequest }): Promise<LoadResult> {
  const latenciesMs: number[] = [];
  // Without a callback autocannon returns its event emitter, made thenable (lib/init.js); the types know only one side.
  const instance = autocannon({
    url: `http://127.0.0.1:${options.port}`,
    connections: options.connections,
    duration: options.seconds,
    timeout: 10,
    requests: [
      {
        setupRequest: (request) => {
          const next = options.next();
          return {
            ...request,
            method: 'POST',
            path: next.path,
            headers: { 'content-type': 'application/json', authorization: next.authorization },
            body: next.body,
          };
        },
      },
    ],
    // The cheapest check that a 200 carries data and no GraphQL error.
    verifyBody: (body) => typeof body === 'string' && body.startsWith('{"data"') && !body.includes('"errors"'),
  }) as unknown as autocannon.Instance & PromiseLike<autocannon.Result>;
  instance.on('response', (_client: unknown, _status: number, _bytes: number, ms: number) => latenciesMs.push(ms));
  const result = await instance;
  return {
    responses: latenciesMs.length,
    seconds: result.duration,
    latenciesMs,
    errors: result.mismatches,
    non2xx: result.non2xx,
    failures: result.errors + result.timeouts,
  };
}

/** The p-th percentile (0..100) of values, nearest rank. */
export function percentile(sorted: readonly number[], p: number): number {
  if (!sorted.length) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}
