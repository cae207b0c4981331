// No imports on purpose: the process entry point (server/process-lifecycle.ts) needs this before anything heavy loads.

/**
 * SQLSTATEs of a database that is away or going away, not of a bad request: class 08 (connection exception, also
 * what PgBouncer reports when its server connection fails), 57P01 admin shutdown (`pg_terminate_backend`, a fast
 * shutdown), 57P02 crash shutdown, 57P03 cannot connect now (starting up, shutting down, in recovery), 57P05 idle
 * session timeout, 53300 too many connections, 53400 configuration limit exceeded.
 */
const CONNECTION_SQLSTATES = /^(08...|57P0[1235]|53300|53400)$/;

/** Socket-level failures node reports for a database it cannot reach or that went away mid-conversation. */
const SOCKET_ERRNOS = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

/**
 * What pg and pg-pool throw, without a code, for a connection that ended or was never made: the server closed it
 * ("Connection terminated unexpectedly"), a later query on a dead client ("…not queryable"), pg-pool's acquire
 * timeout ("timeout exceeded when trying to connect") and connect timeout ("…due to connection timeout").
 */
const CONNECTION_MESSAGES = /Connection terminated|not queryable|timeout exceeded when trying to connect|Client was closed|Connection ended/;

/**
 * True for an error that says the database is unreachable, overloaded or going away — retryable, and no fault of
 * the request. These answer HTTP 503 SERVICE_UNAVAILABLE with Retry-After, in production as in development, so
 * clients and load balancers can tell an outage from a bug.
 */
export function isConnectionFailure(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { code, message } = error as { code?: unknown; message?: unknown };
  if (typeof code === 'string' && (CONNECTION_SQLSTATES.test(code) || SOCKET_ERRNOS.has(code))) return true;
  if (typeof message === 'string' && CONNECTION_MESSAGES.test(message)) return true;
  // AggregateError (node's happy-eyeballs connect to several addresses) and errors wrapping a cause.
  const nested = error as { errors?: unknown; cause?: unknown };
  if (Array.isArray(nested.errors) && nested.errors.some(isConnectionFailure)) return true;
  return nested.cause !== undefined && nested.cause !== error && isConnectionFailure(nested.cause);
}
