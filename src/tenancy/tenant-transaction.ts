import {
  CompiledQuery,
  Kysely,
  type ConnectionProvider,
  type ControlledTransaction,
  type DatabaseConnection,
  type Driver,
  type QueryResult,
} from 'kysely';
import type pg from 'pg';
import type { AppDatabase, Database } from '../db/kysely.js';
import { DeferredPrologue } from '../db/pipelined-prologue.js';
import { ClientProbe } from '../db/pool-client-capture.js';
import { isValidTenantId } from '../ids/entity-ids.js';
import { ExternalTenantIds } from './external-tenant-ids.js';
import {
  buildTransactionPrologue,
  buildTransactionPrologueStatements,
  type EnteredIdentity,
  type TenantScope,
  type TransactionMode,
} from './transaction-prologue.js';

declare const tenantTransactionBrand: unique symbol;

/**
 * A Kysely controlled transaction whose connection has the tenant applied. Only this module can make one,
 * so a query function that takes a `TenantTransaction` cannot be called with the bare pool: the compiler
 * enforces "every statement of a request runs under the request's tenant".
 */
export type TenantTransaction = ControlledTransaction<Database> & { readonly [tenantTransactionBrand]: true };

/** One statement of one tenant transaction, as its observer sees it. */
export interface TransactionStatementEvent {
  readonly sql: string;
  readonly durationMs: number;
  /** What the statement threw (a pg error carries its SQLSTATE in `code`); undefined when it succeeded. */
  readonly error: unknown;
}

/**
 * Sees each statement of one transaction (the prologue, COMMIT and ROLLBACK included), knowing which
 * transaction it belongs to, which the pool-wide StatementObserver cannot. Runs on the hot path: keep it cheap.
 */
export type TransactionStatementObserver = (event: TransactionStatementEvent) => void;

/**
 * Opens a transaction for one tenant on a pooled connection, in one round trip (see transaction-prologue.ts).
 * `observe`, when given, sees this transaction's statements only.
 *
 * Throws when the pool has no free connection within its acquire timeout, or when the prologue fails; in
 * both cases no connection stays checked out.
 *
 * With `mode.deferPrologue` and a tenant named by id, nothing is sent yet: the prologue goes out with the
 * transaction's first statement (db/pipelined-prologue.ts), and a refusal comes as that statement's error (and
 * every later one's) instead; {@link tenantTransactionEntered} waits for it, {@link prologueRefusalOf} tells it
 * apart. The caller rolls back as after any failed statement, which cleans the connection.
 */
export async function beginTenantTransaction(
  database: AppDatabase,
  scope: TenantScope,
  mode: TransactionMode,
  observe?: TransactionStatementObserver,
): Promise<TenantTransaction> {
  // The database's mode (TENANT_CONTEXT_MODE) unless the caller named one.
  const effective = database.tenantContext && !mode.tenantContext ? { ...mode, tenantContext: database.tenantContext } : mode;
  // Citus mode with an external tenant id: the prologue names the tenant id remembered for it (external-tenant-ids.ts),
  // looked up on the transaction's own connection when none is; see PrologueDriver. Validated here, before any
  // connection is taken, with a stand-in id (the real one is validated the same way when the prologue is built).
  const external = effective.tenantContext === 'citus' && !isValidTenantId(scope.tenantId) ? scope.tenantId : undefined;
  const prologue = (knownTenantId?: string) => buildTransactionPrologue(scope, effective, knownTenantId);
  const checked = prologue(external === undefined ? undefined : '1');
  const lookup: ExternalTenantLookup | undefined =
    external === undefined
      ? undefined
      : // A database not made for Citus mode (a caller naming the mode itself) remembers nothing between transactions.
        { externalId: external, remembered: database.externalTenantIds ?? new ExternalTenantIds(), timeouts: effective };
  // A Kysely that shares the app instance's executor (pool, compiler, plugins, logging) and differs only in how
  // it begins a transaction. KyselyProps is Kysely's public constructor form for exactly this kind of reuse.
  const shared = database.db.getExecutor();
  // Plugins made for this transaction's tenant (AppDatabase.transactionPlugins). SECURITY: they rewrite statements
  // and nothing else; RLS still applies to whatever they send. Without any, the shared executor is used as it is.
  const executor = (database.transactionPlugins?.(scope.tenantId) ?? []).reduce((inner, plugin) => inner.withPlugin(plugin), shared);
  // A deferred prologue (db/pipelined-prologue.ts) for a tenant named by id; a name needs its lookup or row first.
  const deferred =
    effective.deferPrologue && external === undefined && isValidTenantId(scope.tenantId)
      ? new DeferredPrologue(buildTransactionPrologueStatements(scope, effective), scope.tenantId)
      : undefined;
  const driver = new PrologueDriver(lookup ? prologue : () => checked, lookup, deferred);
  const scoped = new Kysely<Database>({
    config: { dialect: database.dialect },
    dialect: database.dialect,
    // The observed connection is the one Kysely's controlled transaction keeps, so the prologue (our driver),
    // every query and COMMIT/ROLLBACK pass through it.
    executor: observe ? executor.withConnectionProvider(new ObservedConnectionProvider(executor, observe)) : executor,
    driver,
  });
  const tx = (await scoped.startTransaction().execute()) as TenantTransaction;
  begun.set(tx, { identity: driver.entered, client: driver.probe.client, deferred });
  return tx;
}

const begun = new WeakMap<
  TenantTransaction,
  { readonly identity: EnteredIdentity | undefined; readonly client: pg.PoolClient | undefined; readonly deferred: DeferredPrologue | undefined }
>();

function begunOf(tx: TenantTransaction) {
  const facts = begun.get(tx);
  if (!facts) throw new Error('Expected a transaction begun by beginTenantTransaction');
  return facts;
}

/**
 * The tenant and user the transaction's prologue entered: the ids behind the names of its scope (an external
 * tenant id, an external subject), learnt in the prologue's own round trip.
 */
export function enteredIdentityOf(tx: TenantTransaction): EnteredIdentity {
  const identity = knownIdentityOf(tx);
  if (!identity) throw new Error('The transaction has not entered its tenant yet (its prologue is deferred): await tenantTransactionEntered');
  return identity;
}

/** The entered identity, or undefined while a deferred prologue has not run (or was refused). */
export function knownIdentityOf(tx: TenantTransaction): EnteredIdentity | undefined {
  const facts = begunOf(tx);
  if (facts.identity) return facts.identity;
  const row = facts.deferred?.entered;
  return row ? { tenantId: row.enteredTenant, userId: row.enteredUser } : undefined;
}

/**
 * Resolves with the entered identity once the transaction's prologue ran: at once for a prologue that was not
 * deferred; for a deferred one when the statement that carried it is answered, or, if none has yet, after sending
 * the prologue on its own (one round trip). Rejects with the prologue's refusal, the error beginTenantTransaction
 * throws for a prologue that is not deferred.
 */
export async function tenantTransactionEntered(tx: TenantTransaction): Promise<EnteredIdentity> {
  const facts = begunOf(tx);
  if (facts.identity) return facts.identity;
  const row = await facts.deferred!.whenEntered();
  return { tenantId: row.enteredTenant, userId: row.enteredUser };
}

/** The refusal of the transaction's deferred prologue, once it was refused; undefined otherwise. */
export function prologueRefusalOf(tx: TenantTransaction): { readonly error: unknown } | undefined {
  const deferred = begunOf(tx).deferred;
  return deferred?.state === 'refused' ? { error: deferred.error } : undefined;
}

/**
 * The pool's client the transaction runs on (learnt by its prologue, db/pool-client-capture.ts), for a request
 * deadline that must cancel its statement; always known on the pool createAppDatabase wraps.
 */
export function pooledClientOf(tx: TenantTransaction): pg.PoolClient | undefined {
  return begunOf(tx).client;
}

/** What the driver needs to name the tenant behind an external id in Citus mode. */
interface ExternalTenantLookup {
  readonly externalId: string;
  readonly remembered: ExternalTenantIds;
  readonly timeouts: Pick<TransactionMode, 'statementTimeoutMs' | 'idleInTransactionTimeoutMs'>;
}

/**
 * Begins with the tenant prologue instead of a bare `begin`; commit and rollback are the ordinary commands.
 * No savepoints: a request is all-or-nothing. Connections come from the shared executor, never from this driver.
 */
class PrologueDriver implements Driver {
  /** What the prologue's `app.enter_tenant` returned; set once it succeeded. */
  entered: EnteredIdentity | undefined;
  /** Told the pool's client by the prologue's statement (db/pool-client-capture.ts). */
  readonly probe = new ClientProbe();

  constructor(
    private readonly prologue: (knownTenantId?: string) => string,
    private readonly lookup?: ExternalTenantLookup,
    private readonly deferred?: DeferredPrologue,
  ) {}

  async beginTransaction(connection: DatabaseConnection): Promise<void> {
    if (this.deferred) {
      // Sends nothing: the connection keeps the prologue for the transaction's first statement
      // (pool-client-capture.ts), which it carries in its round trip, and learns the client now.
      await connection.executeQuery(CompiledQuery.raw(this.prologue(), [this.deferred]));
      this.probe.client = this.deferred.client as pg.PoolClient | undefined;
      return;
    }
    try {
      const lookup = this.lookup;
      if (!lookup) {
        this.entered = await this.#enter(connection, this.prologue());
        return;
      }
      // Citus mode, external tenant id. Steady state: the remembered id, one round trip as always. A miss costs one
      // lookup first. A stale entry is refused by the prologue itself (migrations/0019), forgotten and looked up
      // again once, so the token reaches the tenant that has its external id now, as in the standard mode.
      const remembered = lookup.remembered.get(lookup.externalId);
      try {
        this.entered = await this.#enter(connection, this.prologue(remembered ?? (await lookUpTenantId(connection, lookup))));
      } catch (error) {
        if (remembered === undefined || !isStaleExternalId(error)) throw error;
        lookup.remembered.forget(lookup.externalId);
        await connection.executeQuery(CompiledQuery.raw('rollback'));
        this.entered = await this.#enter(connection, this.prologue(await lookUpTenantId(connection, lookup)));
      }
    } catch (error) {
      // SECURITY: if `start transaction` ran but a setting failed, the connection sits in an aborted
      // transaction. Roll it back before Kysely returns it to the pool.
      await connection.executeQuery(CompiledQuery.raw('rollback')).catch(() => {});
      throw error;
    }
  }

  async #enter(connection: DatabaseConnection, prologue: string): Promise<EnteredIdentity> {
    // The pool's clients report a multi-statement query's last result (db/pool-client-capture.ts): the row of
    // app.enter_tenant.
    const { rows } = await connection.executeQuery<{ entered_tenant: string; entered_user: string | null }>(
      CompiledQuery.raw(prologue, [this.probe]),
    );
    const row = rows[0];
    if (!row) throw new Error('The tenant prologue returned no row; expected app.enter_tenant of migrations/0012 (run the migrations)');
    return { tenantId: String(row.entered_tenant), userId: row.entered_user };
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('commit'));
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('rollback'));
  }

  init(): Promise<void> {
    return Promise.resolve();
  }

  acquireConnection(): Promise<DatabaseConnection> {
    throw new Error('PrologueDriver only begins and ends transactions; connections come from the shared executor');
  }

  releaseConnection(): Promise<void> {
    throw new Error('PrologueDriver only begins and ends transactions; connections come from the shared executor');
  }

  destroy(): Promise<void> {
    return Promise.resolve();
  }
}

/** Hands out the shared executor's connections wrapped so that one transaction's observer times each statement. */
class ObservedConnectionProvider implements ConnectionProvider {
  constructor(
    private readonly inner: ConnectionProvider,
    private readonly observe: TransactionStatementObserver,
  ) {}

  provideConnection<T>(consumer: (connection: DatabaseConnection) => Promise<T>): Promise<T> {
    return this.inner.provideConnection((connection) => consumer(observedConnection(connection, this.observe)));
  }
}

function observedConnection(connection: DatabaseConnection, observe: TransactionStatementObserver): DatabaseConnection {
  return {
    async executeQuery<R>(compiledQuery: CompiledQuery): Promise<QueryResult<R>> {
      const startedAt = performance.now();
      let error: unknown;
      try {
        return await connection.executeQuery<R>(compiledQuery);
      } catch (thrown) {
        error = thrown;
        throw thrown;
      } finally {
        observe({ sql: compiledQuery.sql, durationMs: performance.now() - startedAt, error });
      }
    },
    streamQuery: (compiledQuery, chunkSize) => connection.streamQuery(compiledQuery, chunkSize),
  };
}

/**
 * Runs `work` in `tx`, then commits. When anything fails, rolls back (a rollback that fails too is moot: the
 * connection is then discarded) and rethrows, so the transaction never stays open and its connection always
 * returns to the pool (kysely#1990: a failed commit keeps the connection checked out until rollback).
 */
export async function commitOrRollBack<T>(tx: TenantTransaction, work: (tx: TenantTransaction) => Promise<T>): Promise<T> {
  try {
    const result = await work(tx);
    await tx.commit().execute();
    return result;
  } catch (error) {
    await rollBackQuietly(tx);
    throw error;
  }
}

/** Rolls `tx` back after a failure; a rollback that fails too is moot (the connection is then discarded). */
export async function rollBackQuietly(tx: TenantTransaction): Promise<void> {
  await tx
    .rollback()
    .execute()
    .catch(() => {});
}

/**
 * The tenant id of an external tenant id, looked up on `connection` outside any transaction and remembered: the
 * resolution the standard mode's prologue makes (app.enter_tenant with no member resolves the name and nothing
 * else), as one statement in an implicit transaction of its own, so the settings it makes end with it. An unknown
 * external id is refused by the database exactly as in the standard mode (TG002, DETAIL 'unknown_tenant': 401 with
 * reason unknown_tenant) and is not remembered.
 */
async function lookUpTenantId(connection: DatabaseConnection, lookup: ExternalTenantLookup): Promise<string> {
  const { rows } = await connection.executeQuery<{ entered_tenant: string }>(
    CompiledQuery.raw('select entered_tenant from app.enter_tenant($1, null, $2, $3)', [
      lookup.externalId,
      lookup.timeouts.statementTimeoutMs,
      lookup.timeouts.idleInTransactionTimeoutMs,
    ]),
  );
  const tenantId = String(rows[0]!.entered_tenant);
  lookup.remembered.remember(lookup.externalId, tenantId);
  return tenantId;
}

/** app.enter_tenant's refusal of a remembered tenant id that no longer has the token's external id (migrations/0019). */
function isStaleExternalId(error: unknown): boolean {
  const { code, detail } = error as { code?: unknown; detail?: unknown };
  return code === 'TG002' && detail === 'stale_external_id';
}
