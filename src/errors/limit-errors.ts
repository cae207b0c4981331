import { AppError } from './app-error.js';

/**
 * The errors of the per-tenant limits (issue 8 §1). Each names the limit it hit in `extensions.limit`, and the
 * retryable ones carry `extensions.retryAfterSeconds`, which the error plugin turns into a `Retry-After` header.
 */

/** The tenant's fair share of the pool stayed full (or the pool was) until the admission deadline. */
export class ServerBusyError extends AppError {
  constructor(waitedMs: number, share: number, retryAfterSeconds: number) {
    super(
      'SERVER_BUSY',
      `The server is busy: no database connection became free for your tenant within ${waitedMs} ms (your tenant may use ${share} at once). Retry after ${retryAfterSeconds} s.`,
      { limit: 'connectionShare', share, retryAfterSeconds },
    );
  }
}

/** The tenant sent more requests than its plan allows. */
export class RateLimitedError extends AppError {
  constructor(plan: string, requestsPerSecond: number, retryAfterSeconds: number) {
    super(
      'RATE_LIMITED',
      `Too many requests: the "${plan}" plan allows ${requestsPerSecond} requests per second for your tenant. Retry after ${retryAfterSeconds} s.`,
      { limit: 'requestsPerSecond', plan, requestsPerSecond, retryAfterSeconds },
    );
  }
}

/** The whole request ran longer than its plan allows; its statement was cancelled and its work rolled back. */
export class RequestTimeoutError extends AppError {
  constructor(plan: string, requestTimeoutMs: number) {
    super(
      'REQUEST_TIMEOUT',
      `The request ran longer than the ${requestTimeoutMs} ms the "${plan}" plan allows; it was cancelled and rolled back, nothing was saved. Ask for less (smaller pages, fewer fields) or try again.`,
      { limit: 'requestTimeoutMs', plan, requestTimeoutMs },
    );
  }
}
