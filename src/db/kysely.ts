import { Kysely, PostgresDialect, type KyselyPlugin, type LogEvent } from 'kysely';
import type pg from 'pg';
import type { DB } from '../__generated__/database.js';
import { capturingPool } from './pool-client-capture.js';
import type { TenantContextMode } from './tenant-catalog.js';
import { ExternalTenantIds } from '../tenancy/external-tenant-ids.js';

export type Database = DB;

/** Called for every statement Kysely runs (also the tenant prologue): metrics, slow-query logs, tests. */
export type StatementObserver = (event: { sql: string; parameters: readonly unknown[]; durationMs: number; failed: boolean }) => void;

/**
 * Kysely plugins for one tenant transaction, made per transaction from its tenant id (e.g. to tag statements).
 * A neutral extension point: plugins only rewrite statements; they cannot switch Row Level Security off. The
 * role the pool connects as decides that, and startServer refuses a role that bypasses RLS.
 */
export type TransactionPlugins = (tenantId: string) => readonly KyselyPlugin[];

export interface AppDatabase {
  /** The Kysely instance on the app pool. Outside src/tenancy it is only handed to code that opens tenant transactions. */
  readonly db: Kysely<Database>;
  readonly dialect: PostgresDialect;
  readonly pool: pg.Pool;
  /** Plugins every tenant transaction adds to the shared executor (see TransactionPlugins); none by default. */
  readonly transactionPlugins?: TransactionPlugins;
  /** How tenant transactions apply the tenant (TENANT_CONTEXT_MODE, transaction-prologue.ts); default `standard`. */
  readonly tenantContext?: TenantContextMode;
  /**
   * Citus mode only: the tenant ids remembered for external tenant ids (tenancy/external-tenant-ids.ts), shared by
   * every instance of one server that is given the same one (requests and plan lookups).
   */
  readonly externalTenantIds?: ExternalTenantIds;
}

/** Wraps a pool in Kysely. The pool is owned by the caller, who closes it after `db.destroy()`. */
export function createAppDatabase(
  pool: pg.Pool,
  observe?: StatementObserver,
  options: { transactionPlugins?: TransactionPlugins; tenantContext?: TenantContextMode; externalTenantIds?: ExternalTenantIds } = {},
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
  return {
    db,
    dialect,
    pool,
    ...(options.transactionPlugins ? { transactionPlugins: options.transactionPlugins } : {}),
    ...(options.tenantContext ? { tenantContext: options.tenantContext } : {}),
    ...(options.tenantContext === 'citus' ? { externalTenantIds: options.externalTenantIds ?? new ExternalTenantIds() } : {}),
  };
}
