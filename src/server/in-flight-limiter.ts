import type { IncomingMessage, ServerResponse } from 'node:http';
import { HeaderMap } from '@apollo/server';
import { AppError } from '../errors/app-error.js';
import { sendGraphQLErrors } from './http-body.js';
// A slot frees as soon as one of the tenant's own requests ends: the server's usual retry hint fits.
import { DEFAULT_RETRY_AFTER_SECONDS } from './http-body.js';

export interface InFlightLimits {
  /** GraphQL requests of one tenant (verified token) in flight at once. */
  perTenant: number;
  /** GraphQL requests without a token from one remote address in flight at once. */
  perAddress: number;
  /**
   * How long a tenant's request past its bound waits for one of the tenant's own slots before it is refused (ms).
   * At most `perTenant` requests wait per tenant; more are refused at once. Default 1000.
   */
  tenantQueueWaitMs?: number;
}

/** One tenant request waiting for a slot of its own tenant. */
interface Waiter {
  admit(): void;
}

/**
 * Bounds the GraphQL requests in flight per tenant and per tokenless source, at the HTTP layer, so one tenant
 * (or one anonymous address) cannot hold an unbounded number of requests — bodies, results, unread responses —
 * in the server's memory. A request holds its slot until its response is closed: written out completely, or
 * dropped (a client that does not read, see slow-reader-guard.ts); so unread responses count too.
 *
 * A tenant's request past the bound first waits, briefly and in a bounded queue, for a slot of its own tenant:
 * clients that ignore Retry-After (a flood) then wait instead of spinning through refusals as fast as the server
 * can write them — measured with `npm run bench -- --noisy`, that refusal loop cost more of the server's single
 * thread than the other tenants' requests. So a tenant's flood queues behind itself at the HTTP layer too.
 *
 * Memory: one map entry per key that has a request in flight or waiting, removed when its last request ends; at
 * most `perTenant` waiters per tenant. Refusals are TOO_MANY_CONCURRENT_REQUESTS with HTTP 429 and `Retry-After`.
 */
export class InFlightLimiter {
  readonly #inFlight = new Map<string, number>();
  readonly #waiting = new Map<string, Waiter[]>();

  constructor(readonly limits: InFlightLimits) {}

  /**
   * Admits a request of a tenant whose token was verified — at once, or after waiting for one of the tenant's own
   * requests to end — or resolves with the error to refuse it with (the queue is full, the wait ran out).
   * A request whose client goes away while it waits leaves the queue (and is refused; nobody reads that).
   * SECURITY: keyed by the verified tenant only; an unverified claim could spend a victim's slots.
   */
  async admitTenant(tenantId: string, res: ServerResponse): Promise<AppError | null> {
    const key = `tenant:${tenantId}`;
    const max = this.limits.perTenant;
    const who = `tenant ${tenantId}`;
    if ((this.#inFlight.get(key) ?? 0) < max) return this.#admit(key, max, res, who);
    const queue = this.#waiting.get(key) ?? [];
    if (queue.length >= max) return this.#admit(key, max, res, who);
    const admitted = await new Promise<boolean>((resolve) => {
      const done = (outcome: boolean) => {
        clearTimeout(timer);
        res.off('close', gone);
        const index = queue.indexOf(waiter);
        if (index >= 0) queue.splice(index, 1);
        if (!queue.length && this.#waiting.get(key) === queue) this.#waiting.delete(key);
        resolve(outcome);
      };
      const waiter: Waiter = { admit: () => done(true) };
      const gone = () => done(false);
      const timer = setTimeout(gone, this.limits.tenantQueueWaitMs ?? 1000);
      res.once('close', gone);
      queue.push(waiter);
      this.#waiting.set(key, queue);
    });
    // A freed slot was handed to this waiter (the count already includes it), or it gives up: refused.
    if (!admitted) return this.#refusal(max, who);
    this.#holdUntilClosed(key, res);
    return null;
  }

  /** Admits a request without a token (it can only introspect), keyed by its address (client-address.ts). */
  admitAnonymous(address: string, res: ServerResponse): AppError | null {
    return this.#admit(`address:${address}`, this.limits.perAddress, res, 'requests without a token from your address');
  }

  /** Tenant requests waiting for a slot, over all tenants. */
  get waiting(): number {
    let n = 0;
    for (const queue of this.#waiting.values()) n += queue.length;
    return n;
  }

  /** Keys with a request in flight (for tests: it returns to 0 when everything ended). */
  get keys(): number {
    return this.#inFlight.size;
  }

  #admit(key: string, max: number, res: ServerResponse, who: string): AppError | null {
    const count = this.#inFlight.get(key) ?? 0;
    if (count >= max) return this.#refusal(max, who);
    this.#inFlight.set(key, count + 1);
    this.#holdUntilClosed(key, res);
    return null;
  }

  /** The slot is given back when the response closes: to the key's first waiter if one waits, else freed. */
  #holdUntilClosed(key: string, res: ServerResponse): void {
    res.once('close', () => {
      const next = this.#waiting.get(key)?.[0];
      if (next) return next.admit();
      const left = this.#inFlight.get(key)! - 1;
      if (left === 0) this.#inFlight.delete(key);
      else this.#inFlight.set(key, left);
    });
  }

  #refusal(max: number, who: string): AppError {
    return new AppError(
      'TOO_MANY_CONCURRENT_REQUESTS',
      `Too many concurrent requests: ${who} already has ${max} in flight, the limit. ` +
        `Wait for one to finish (retry after ${DEFAULT_RETRY_AFTER_SECONDS} s), or send fewer requests at once.`,
      { http: { status: 429, headers: new HeaderMap([['retry-after', String(DEFAULT_RETRY_AFTER_SECONDS)]]) } },
    );
  }
}

/** Writes a refusal from {@link InFlightLimiter} as a GraphQL error response (for requests Apollo never saw). */
export function sendRefusal(req: IncomingMessage, res: ServerResponse, error: AppError): void {
  const http = error.extensions.http as { status: number; headers: HeaderMap };
  for (const [name, value] of http.headers) res.setHeader(name, value);
  sendGraphQLErrors(req, res, http.status, [{ message: error.message, extensions: { code: error.code } }]);
}
