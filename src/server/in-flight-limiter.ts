import type { IncomingMessage, ServerResponse } from 'node:http';
import { HeaderMap } from '@apollo/server';
import { AppError } from '../errors/app-error.js';
import { sendGraphQLErrors } from './http-body.js';

export interface InFlightLimits {
  /** GraphQL requests of one tenant (verified token) in flight at once. */
  perTenant: number;
  /** GraphQL requests without a token from one remote address in flight at once. */
  perAddress: number;
}

/** Seconds a refused client is told to wait: a slot frees as soon as one of its own requests ends. */
const RETRY_AFTER_SECONDS = 1;

/**
 * Bounds the GraphQL requests in flight per tenant and per tokenless source, at the HTTP layer, so one tenant
 * (or one anonymous address) cannot hold an unbounded number of requests — bodies, results, unread responses —
 * in the server's memory. A request holds its slot until its response is closed: written out completely, or
 * dropped (a client that does not read, see slow-reader-guard.ts); so unread responses count too.
 *
 * Memory: one map entry per key that has a request in flight, removed when its last request ends.
 * Refusals are TOO_MANY_CONCURRENT_REQUESTS with HTTP 429 and `Retry-After`.
 */
export class InFlightLimiter {
  readonly #inFlight = new Map<string, number>();

  constructor(readonly limits: InFlightLimits) {}

  /**
   * Admits a request of a tenant whose token was verified, or returns the error to refuse it with.
   * SECURITY: keyed by the verified tenant only; an unverified claim could spend a victim's slots.
   */
  admitTenant(tenantId: string, res: ServerResponse): AppError | null {
    return this.#admit(`tenant:${tenantId}`, this.limits.perTenant, res, `tenant ${tenantId}`);
  }

  /** Admits a request without a token (it can only introspect), keyed by its remote address. */
  admitAnonymous(remoteAddress: string | undefined, res: ServerResponse): AppError | null {
    return this.#admit(`address:${remoteAddress ?? 'unknown'}`, this.limits.perAddress, res, 'requests without a token from your address');
  }

  /** Keys with a request in flight (for tests: it returns to 0 when everything ended). */
  get keys(): number {
    return this.#inFlight.size;
  }

  #admit(key: string, max: number, res: ServerResponse, who: string): AppError | null {
    const count = this.#inFlight.get(key) ?? 0;
    if (count >= max) {
      return new AppError(
        'TOO_MANY_CONCURRENT_REQUESTS',
        `Too many concurrent requests: ${who} already has ${max} in flight, the limit. ` +
          `Wait for one to finish (retry after ${RETRY_AFTER_SECONDS} s), or send fewer requests at once.`,
        { http: { status: 429, headers: new HeaderMap([['retry-after', String(RETRY_AFTER_SECONDS)]]) } },
      );
    }
    this.#inFlight.set(key, count + 1);
    res.once('close', () => {
      const left = this.#inFlight.get(key)! - 1;
      if (left === 0) this.#inFlight.delete(key);
      else this.#inFlight.set(key, left);
    });
    return null;
  }
}

/** Writes a refusal from {@link InFlightLimiter} as a GraphQL error response (for requests Apollo never saw). */
export function sendRefusal(req: IncomingMessage, res: ServerResponse, error: AppError): void {
  const http = error.extensions.http as { status: number; headers: HeaderMap };
  for (const [name, value] of http.headers) res.setHeader(name, value);
  sendGraphQLErrors(req, res, http.status, [{ message: error.message, extensions: { code: error.code } }]);
}
