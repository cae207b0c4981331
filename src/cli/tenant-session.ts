import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { AuditLog } from '../audit/audit-log.js';
import type { AuditEvent, AuditOutcome } from '../tenancy/audit-sink.js';
import type { Env } from '../config/env.js';
import { createAppDatabase, type AppDatabase } from '../db/kysely.js';
import { createPool } from '../db/pool.js';
import { assertIsolationIsEnforced } from '../db/safety-check.js';
import { findCurrentTenant } from '../modules/directory/queries.js';
import { beginTenantTransaction, commitOrRollBack, rollBackQuietly, type TenantTransaction } from '../tenancy/tenant-transaction.js';
import type { TransactionMode } from '../tenancy/transaction-prologue.js';
import { parseIdFlag } from './id-flags.js';
import { withDatabase, type CliIo } from './cli-context.js';
import { UsageError } from './usage.js';

/**
 * What the operator commands (`audit`, `explain`, `sql`) share: the app role, never the owner, for their reads and
 * their audit events (`sql` runs the operator's statement as tenantgraph_operator, see operator-connection.ts); a
 * tenant context without a user; and one audit event per command in that tenant's trail, as every API request
 * leaves one.
 */
export interface AppSession {
  readonly database: AppDatabase;
  readonly pool: pg.Pool;
  /** DATABASE_URL_APP, or the embedded database's app-role URL. */
  readonly appUrl: string;
  /** DATABASE_URL, or the embedded database's owner URL: `sql` binds operator connections with it. */
  readonly ownerUrl: string;
  readonly embedded: boolean;
}

/** One operator command in one tenant, as its audit event describes it. */
export interface OperatorSession {
  readonly tenantId: string;
  /** `cli-<uuid>`: the event's request id, and the application_name of the command's connections. */
  readonly requestId: string;
  readonly operationName: string;
  readonly startedAt: string;
  readonly startedMs: number;
}

/** A tenant that does not exist: the command fails, and there is no trail to write an event into. */
export class NoSuchTenantError extends Error {
  constructor(tenantId: string) {
    super(`No tenant ${tenantId}.`);
    this.name = 'NoSuchTenantError';
  }
}

/** `--tenant` checked as the token command checks it: a positive 64-bit decimal integer. */
export function requireTenantId(command: string, value: string | undefined): string {
  if (value === undefined) throw new UsageError(`${command} needs --tenant`);
  return parseIdFlag('--tenant', 'Tenant', value);
}

export function startOperatorSession(tenantId: string, operationName: string): OperatorSession {
  return {
    tenantId,
    requestId: `cli-${randomUUID()}`,
    operationName: operationName.slice(0, 200),
    startedAt: new Date().toISOString(),
    startedMs: performance.now(),
  };
}

/**
 * Runs `work` on a small pool as the app role (DATABASE_URL_APP), after the same isolation check the server
 * makes at boot. The connections carry the session's request id as application_name (pg_stat_activity).
 *
 * SECURITY: these commands promise an operator that they see one tenant only. That promise is Row Level
 * Security's, so a DATABASE_URL_APP pointing at a superuser, a BYPASSRLS role or the owner is refused here
 * instead of quietly showing every tenant.
 */
export function withAppSession<T>(env: Env, io: CliIo, session: OperatorSession, work: (app: AppSession) => Promise<T>): Promise<T> {
  return withDatabase(env, io, async ({ appUrl, ownerUrl, embedded }) => {
    const pool = createPool({
      connectionString: appUrl,
      max: 2,
      applicationName: session.requestId,
      acquireTimeoutMs: env.DB_POOL_ACQUIRE_TIMEOUT_MS,
    });
    const database = createAppDatabase(pool, undefined, { tenantContext: env.TENANT_CONTEXT_MODE });
    try {
      await assertIsolationIsEnforced(database.db, env.TENANT_CONTEXT_MODE);
      return await work({ database, pool, appUrl, ownerUrl, embedded });
    } finally {
      await database.db.destroy(); // ends the pool too
    }
  });
}

/**
 * Runs `work` and then writes the session's audit event: `outcome` when it succeeded, 'rolled_back' when it
 * failed (but not for a tenant that does not exist). Reports the request id on stderr either way.
 */
export async function audited<T>(app: AppSession, session: OperatorSession, io: CliIo, outcome: AuditOutcome, work: () => Promise<T>): Promise<T> {
  let result: T;
  try {
    result = await work();
  } catch (error) {
    if (!(error instanceof NoSuchTenantError)) {
      await writeOperatorEvent(app, operatorEvent(session, 'rolled_back')).catch((auditError: unknown) => io.log(`error: ${message(auditError)}`));
      io.log(`audit event ${session.requestId} (rolled_back)`);
    }
    throw error;
  }
  await writeOperatorEvent(app, operatorEvent(session, outcome));
  io.log(`audit event ${session.requestId} (${outcome})`);
  return result;
}

/**
 * Begins a transaction in `tenantId`'s context for the operator (no user: `userId` null, so no membership
 * check), and makes sure the tenant exists: RLS would answer an unknown tenant with empty results, which an
 * operator could mistake for an empty tenant. Throws {@link NoSuchTenantError}, with nothing checked out, when
 * it does not exist.
 */
export async function beginOperatorTransaction(app: AppSession, tenantId: string, mode: TransactionMode): Promise<TenantTransaction> {
  const tx = await beginTenantTransaction(app.database, { tenantId, userId: null }, mode);
  try {
    if (!(await findCurrentTenant(tx))) throw new NoSuchTenantError(tenantId);
    return tx;
  } catch (error) {
    await rollBackQuietly(tx);
    throw error;
  }
}

/** Runs `work` in a READ ONLY operator transaction of `tenantId` with the server's timeouts; commits it, as API reads do. */
export async function readInTenant<T>(app: AppSession, tenantId: string, env: Env, work: (tx: TenantTransaction) => Promise<T>): Promise<T> {
  const tx = await beginOperatorTransaction(app, tenantId, {
    readOnly: true,
    statementTimeoutMs: env.DB_STATEMENT_TIMEOUT_MS,
    idleInTransactionTimeoutMs: env.DB_IDLE_IN_TRANSACTION_TIMEOUT_MS,
  });
  return commitOrRollBack(tx, work);
}

export function operatorEvent(session: OperatorSession, outcome: AuditOutcome): AuditEvent {
  return {
    tenantId: session.tenantId,
    userId: null,
    requestId: session.requestId,
    source: 'cli',
    // The only operation type the audit_events CHECK allows for operator work besides the API's own three.
    operationType: 'sql',
    operationName: session.operationName,
    outcome,
    startedAt: session.startedAt,
    durationMs: performance.now() - session.startedMs,
  };
}

/** Writes one event in a transaction of the event's tenant, through the server's AuditLog; throws if it fails. */
export async function writeOperatorEvent(app: AppSession, event: AuditEvent): Promise<void> {
  let failure: unknown;
  const log = new AuditLog(app.database.pool, {
    ...(app.database.tenantContext ? { tenantContext: app.database.tenantContext } : {}),
    flushIntervalMs: 60_000,
    batchSize: 1,
    maxPending: 1,
    observer: {
      dropped: (_reason, _count, error) => (failure ??= error ?? 'the database was unavailable'),
      retrying: (_count, error) => (failure = error),
    },
  });
  log.enqueue(event);
  await log.close();
  if (failure !== undefined) throw new Error(`The audit event ${event.requestId} could not be written: ${message(failure)}`);
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
