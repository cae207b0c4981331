import { Kysely, PostgresDialect, type LogEvent } from 'kysely';
import type pg from 'pg';
import type { DB } from '../__generated__/database.js';
import { capturingPool } from './pool-client-capture.js';

export type Database = DB;

/** Called for every statement Kysely runs (also the tenant prologue): metrics, slow-query logs, tests. */
export type StatementObserver = (event: {
  sql: string;
  parameters: readonly unknown[];
  durationMs: number;
  failed: boolean;
}) => void;

export interface AppDatabase {
  /** The Kysely instance on the app pool. Outside src/tenancy it is only handed to code that opens tenant transactions. */
  readonly db: Kysely<Database>;
  readonly dialect: PostgresDialect;
  readonly pool: pg.Pool;
  /**
   * BENCHMARK ONLY: every tenant transaction adds `tenant_id = <tenant>` to its statements itself
   * (see tenancy/explicit-tenant-filter-plugin.ts). False in every real server.
   */
  readonly explicitTenantFilter: boolean;
}

/** Wraps a pool in Kysely. The pool is owned by the caller, who closes it after `db.destroy()`. */
export function createAppDatabase(
  pool: pg.Pool,
  observe?: StatementObserver,
  options: { explicitTenantFilter?: boolean } = {},
): AppDatabase {
  // The capturing wrapper lets a request deadline find its transaction's client (see pool-client-capture.ts).
  const dialect = new PostgresDialect({ pool: capturingPool(pool) });
  const log = observe
    ? (event: LogEvent) =>
        observe({
          sql: event.query.sql,
          parameters: event.query.parameters,
          durationMs: event.queryDurationMillis,
          failed: event.level === 'error',
        })
    : undefined;
  const db = new Kysely<Database>(log ? { dialect, log } : { dialect });
  return { db, dialect, pool, explicitTenantFilter: options.explicitTenantFilter ?? false };
}
