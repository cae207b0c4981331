import pg from 'pg';
import { guardedClientClass, type ConnectionErrorListener } from './guarded-client.js';
import { deallocateEvictedOnRelease, preparingClientClass } from './prepared-statements.js';

export interface PoolOptions {
  connectionString: string;
  max?: number;
  /** How long a request may wait for a free connection before it fails (ms). */
  acquireTimeoutMs?: number;
  applicationName?: string;
  /** How long an unused connection stays open (ms); 0 keeps it. Default 10000 (pg-pool's). */
  idleTimeoutMs?: number;
  /**
   * Client-side limit on each query (ms): pg rejects it and the pool discards the connection. For pools that run
   * no request transactions (those have statement_timeout). Not a startup parameter, so it works behind PgBouncer,
   * which refuses `statement_timeout` there.
   */
  queryTimeoutMs?: number;
  /** Hears every connection of this pool that dies, idle or checked out (logging, metrics). */
  onConnectionError?: ConnectionErrorListener;
  /**
   * Send parameterised statements as named statements, at most this many per connection (least recently used
   * first out; see prepared-statements.ts). Unset: unnamed statements, parsed and planned at every execution —
   * what a connection through PgBouncer in transaction mode (before 1.21) needs.
   */
  preparedStatementsPerConnection?: number;
}

// timestamptz stays a string: JavaScript Dates keep milliseconds, PostgreSQL keeps microseconds, and keyset
// cursors built from a rounded value would skip or repeat rows.
const TIMESTAMPTZ_OID = 1184;
const typeParsers = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === TIMESTAMPTZ_OID) return (value: string) => value;
    return pg.types.getTypeParser(oid, format);
  },
} as pg.CustomTypesConfig;

/**
 * A `pg` pool. int8 values come back as strings (pg's default), which keeps tenant ids exact beyond 2^53.
 */
export function createPool(options: PoolOptions): pg.Pool {
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: options.max ?? 10,
    connectionTimeoutMillis: options.acquireTimeoutMs ?? 3000,
    application_name: options.applicationName ?? 'tenantgraph',
    idleTimeoutMillis: options.idleTimeoutMs ?? 10_000,
    ...(options.queryTimeoutMs !== undefined ? { query_timeout: options.queryTimeoutMs } : {}),
    types: typeParsers,
    // SECURITY (availability): every client listens for its own death for its whole life, checked out or not.
    Client:
      options.preparedStatementsPerConnection === undefined
        ? guardedClientClass(options.onConnectionError)
        : preparingClientClass(guardedClientClass(options.onConnectionError), options.preparedStatementsPerConnection),
  });
  if (options.preparedStatementsPerConnection !== undefined) deallocateEvictedOnRelease(pool);
  // An idle client that loses its server also emits 'error' on the pool (pg-pool re-emits it); the client's own
  // listener has reported it already, and the pool discards the client by itself.
  pool.on('error', () => {});
  return pool;
}
