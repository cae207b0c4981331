import pg from 'pg';

export interface PoolOptions {
  connectionString: string;
  max?: number;
  /** How long a request may wait for a free connection before it fails (ms). */
  acquireTimeoutMs?: number;
  applicationName?: string;
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
    types: typeParsers,
  });
  // An idle client that loses its server (restart, network) emits 'error' on the pool; without a listener
  // that would crash the process. The pool discards the client by itself.
  pool.on('error', () => {});
  return pool;
}
