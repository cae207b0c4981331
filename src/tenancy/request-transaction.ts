import type pg from 'pg';
import type { AuditEvent, AuditSink } from './audit-sink.js';
import { sendCancelRequest } from '../db/cancel-request.js';
import type { AppDatabase } from '../db/kysely.js';
import type { AppError } from '../errors/app-error.js';
import { RequestTimeoutError } from '../errors/limit-errors.js';
import type { Permit } from './fair-connection-scheduler.js';
import type { TenantAdmission } from './tenant-admission.js';
import { isValidTenantId, isValidUserId } from '../ids/entity-ids.js';
import { joinTenant } from './just-in-time-membership.js';
import {
  beginTenantTransaction,
  knownIdentityOf,
  pooledClientOf,
  prologueRefusalOf,
  tenantTransactionEntered,
  type TenantTransaction,
  type TransactionStatementEvent,
} from './tenant-transaction.js';
import type { EnteredIdentity, TenantScope } from './transaction-prologue.js';

/** 'rejected': the prologue refused the context (e.g. the user is not a member); 'none': never began. */
export type TransactionOutcome = 'committed' | 'rolled_back' | 'rejected' | 'none';

export interface RequestTransactionSettings {
  readonly statementTimeoutMs: number;
  readonly idleInTransactionTimeoutMs: number;
  /** Receives one event per context switch; none in tools that keep no audit trail. */
  readonly audit?: AuditSink;
  /** Sees each statement of each request transaction with the transaction (tenant, request id): metrics, slow-statement log. */
  readonly observeStatement?: (event: TransactionStatementEvent, transaction: RequestTransaction) => void;
  /**
   * The tenant's plan, rate limit and fair share of the pool (tenant-admission.ts), and with it the request
   * deadline. Absent only in tools that run one transaction at a time.
   */
  readonly admission?: TenantAdmission;
  /**
   * Told after a mutation's COMMIT succeeded, with its tenant: realtime wakes the tenant's subscribers then, after
   * the commit and outside the transaction (never a NOTIFY inside it).
   */
  readonly onCommitted?: (tenantId: string) => void;
}

/**
 * The one transaction of one GraphQL request, begun on first database use.
 *
 * Why lazily: Apollo creates the context before it parses the request and may reject the request before any
 * plugin hook runs (missing query, malformed variables); an eagerly begun transaction would leak its
 * connection there. A request that never touches the database (introspection) opens nothing.
 *
 * Contract: `get()` begins at most once and hands every caller the same transaction; after `commit()` or
 * `rollback()`, `get()` throws, so no statement can run on a connection that went back to the pool.
 * `rollback()` is idempotent and safe to call at any point, also while the transaction is still being begun.
 * Every transaction that was begun leaves exactly one audit event: a mutation's is written inside the
 * transaction before COMMIT, everything else is buffered by the audit sink.
 *
 * With `admission`, a transaction first waits for its tenant's turn (rate limit, fair share); the permit is held
 * for the transaction's lifetime and released exactly once, when it ends or its begin fails. A request refused
 * there never began (`began` false, no audit event). The request deadline (the plan's `request_timeout_ms`,
 * counted from the context's creation) cancels the running statement, discards its connection and rolls back;
 * `cancelReason` then says which limit was hit.
 */
export class RequestTransaction {
  #pending: Promise<TenantTransaction> | undefined;
  #ended: TransactionOutcome | undefined;
  #startedAt = '';
  #startedMs = 0;
  readonly #createdMs = performance.now();
  /** Aborted when the transaction ends or its deadline passes: removes a waiter from the fair scheduler. */
  readonly #abort = new AbortController();
  #admitted = false;
  #permit: Permit | undefined;
  #client: pg.PoolClient | undefined;
  #deadline: NodeJS.Timeout | undefined;
  /** Why the server ended the transaction before the request did (the request deadline); undefined otherwise. */
  cancelReason: AppError | undefined;
  #tx: TenantTransaction | undefined;
  /** The tenant id a refused prologue named (its error's DETAIL), for the audit event of the refusal. */
  #refusedTenantId: string | undefined;
  /** Set once Apollo knows the operation: queries run READ ONLY, mutations READ WRITE. */
  operationType: 'query' | 'mutation' | 'subscription' | undefined;
  operationName: string | undefined;

  constructor(
    private readonly database: AppDatabase,
    readonly scope: TenantScope,
    private readonly settings: RequestTransactionSettings,
    readonly requestId: string,
    /**
     * Send the prologue with the transaction's first statement (TransactionMode.deferPrologue): the GraphQL
     * request path. A token with just-in-time membership keeps the prologue on its own (a refusal there is
     * answered by joining and running the prologue again, before any statement).
     */
    private readonly options: { readonly deferPrologue?: boolean } = {},
  ) {}

  /**
   * The tenant and user the prologue entered (the ids behind external names); undefined until it succeeded (with
   * a deferred prologue: until the first statement's answer, or {@link entered}).
   */
  get identity(): EnteredIdentity | undefined {
    return this.#tx ? knownIdentityOf(this.#tx) : undefined;
  }

  /**
   * The entered identity, once the prologue ran: begins the transaction if needed and, when its prologue is
   * deferred and no statement has carried it yet, sends it on its own. Rejects with the prologue's refusal.
   */
  async entered(): Promise<EnteredIdentity> {
    return tenantTransactionEntered(await this.get());
  }

  /** True once the transaction was admitted and begun (whether or not it has ended). */
  get began(): boolean {
    return this.#pending !== undefined && this.#admitted;
  }

  get outcome(): TransactionOutcome | undefined {
    return this.#ended;
  }

  get(): Promise<TenantTransaction> {
    if (this.#ended) {
      return Promise.reject(new Error(`The request transaction has already ended (${this.#ended}); no statement may run after it`));
    }
    this.#pending ??= this.#begin();
    return this.#pending;
  }

  async #begin(): Promise<TenantTransaction> {
    const admission = this.settings.admission;
    let statementTimeoutMs = this.settings.statementTimeoutMs;
    let permit: Permit | undefined;
    if (admission) {
      const limits = await admission.limitsOf(this.scope.tenantId);
      this.#armDeadline(limits.plan, limits.requestTimeoutMs);
      statementTimeoutMs = Math.min(statementTimeoutMs, limits.statementTimeoutMs);
      // Counted under the tenant's id whichever name the token used (plan-limits.ts).
      permit = await admission.admit(limits.tenantId ?? this.scope.tenantId, limits, this.#abort.signal);
    }
    if (this.#abort.signal.aborted) {
      // Ended (client gone, deadline) while the permit was on its way.
      permit?.release();
      throw this.#abort.signal.reason;
    }
    this.#permit = permit;
    this.#admitted = true;
    this.#startedAt = new Date().toISOString();
    this.#startedMs = performance.now();
    const observe = this.settings.observeStatement;
    const begin = () =>
      beginTenantTransaction(
        this.database,
        this.scope,
        {
          readOnly: this.operationType !== 'mutation',
          statementTimeoutMs,
          idleInTransactionTimeoutMs: this.settings.idleInTransactionTimeoutMs,
          deferPrologue: this.options.deferPrologue === true && !this.scope.joinAs,
        },
        observe && ((event) => observe(event, this)),
      );
    try {
      const tx = await begin().catch(async (error: unknown) => {
        // Just-in-time membership (off unless the verifier set joinAs): a verified subject of a known, active
        // tenant that is not a member yet joins, then the prologue runs once more and checks it as always.
        const tenantId = notMemberOf(error);
        const join = this.scope.joinAs;
        if (!join || tenantId === undefined || this.scope.userId === null) throw error;
        await joinTenant(this.database, tenantId, this.scope.userId, join, this.requestId);
        return begin();
      });
      this.#client = pooledClientOf(tx);
      this.#tx = tx;
      return tx;
    } catch (error) {
      const { code, detail } = error as { code?: unknown; detail?: unknown };
      // app.enter_tenant names the tenant it resolved in DETAIL (migrations/0012), so a refused external name is
      // audited in the right tenant.
      if ((code === 'TG002' || code === 'TG004') && typeof detail === 'string' && isValidTenantId(detail)) this.#refusedTenantId = detail;
      this.#releasePermit();
      throw error;
    }
  }

  #armDeadline(plan: string, requestTimeoutMs: number): void {
    const remaining = Math.max(0, requestTimeoutMs - (performance.now() - this.#createdMs));
    this.#deadline = setTimeout(() => void this.#expire(new RequestTimeoutError(plan, requestTimeoutMs)), remaining);
    this.#deadline.unref();
  }

  /**
   * The request deadline passed: cancel the running statement (CancelRequest), end its connection so it cannot
   * go back to the pool in an unknown state (a cancel that lands on the ROLLBACK would leave a transaction open),
   * and roll back; the pool opens a fresh connection in its place.
   */
  async #expire(reason: AppError): Promise<void> {
    if (this.#ended) return;
    this.cancelReason = reason;
    this.#abort.abort(reason);
    const client = this.#client;
    if (client) {
      // SECURITY: a connection whose transaction state is uncertain after the cancel is destroyed when it is
      // released, never reused by another tenant. Marked before the cancel: the cancelled statement may end the
      // request, and release the connection, before this function runs again. (Closing the connection here
      // instead raced with that release and killed the next request's connection.)
      discardOnRelease(client);
      await sendCancelRequest(client);
    }
    await this.rollback();
  }

  /**
   * Ends a wait for the tenant's turn, if one may still be on: once admitted, nobody listens to the signal, and
   * an Error (its stack) and an abort event for every request were a per cent of the API's CPU.
   */
  #stopWaiting(why: string): void {
    if (!this.#admitted) this.#abort.abort(new Error(why));
  }

  #releasePermit(): void {
    clearTimeout(this.#deadline);
    this.#permit?.release();
    this.#permit = undefined;
  }

  /**
   * Commits, or does nothing when the transaction never began. A mutation's audit event is inserted first, in
   * the same transaction. If COMMIT fails the transaction is rolled back (Kysely keeps the connection checked
   * out after a failed commit until rollback, kysely#1990) and the error is rethrown so the response cannot
   * claim success.
   */
  async commit(): Promise<TransactionOutcome> {
    if (this.#ended) return 'none';
    this.#ended = 'committed';
    this.#stopWaiting('The request transaction ended before it was admitted');
    const tx = await this.#begun();
    if (!tx) return this.#endWithoutTransaction();
    const audit = this.settings.audit;
    try {
      const auditInside = audit && this.operationType === 'mutation';
      if (auditInside) await audit.writeInTransaction(tx, this.#event('committed'));
      await tx.commit().execute();
      if (!auditInside) audit?.enqueue(this.#event('committed'));
      if (this.operationType === 'mutation') this.settings.onCommitted?.(this.scope.tenantId);
      return 'committed';
    } catch (error) {
      this.#ended = 'rolled_back';
      await tx
        .rollback()
        .execute()
        .catch(() => {});
      // A deferred prologue refused on the way (carried by the audit insert or by COMMIT itself): nothing was
      // committed, and the request is a refused context switch, as when the prologue is refused on its own.
      if (prologueRefusalOf(tx)) return this.#endRefused(tx);
      audit?.enqueue(this.#event('rolled_back'));
      throw error;
    } finally {
      this.#releasePermit();
    }
  }

  /** Rolls back, or does nothing when the transaction never began or already ended. */
  async rollback(): Promise<TransactionOutcome> {
    if (this.#ended) return 'none';
    this.#ended = 'rolled_back';
    // A request still waiting for its tenant's turn stops waiting (client gone, shutdown).
    this.#stopWaiting('The request transaction was rolled back before it was admitted');
    const tx = await this.#begun();
    if (!tx) return this.#endWithoutTransaction();
    // Kysely releases the connection even when ROLLBACK itself fails (dead connection).
    await tx
      .rollback()
      .execute()
      .catch(() => {});
    this.#releasePermit();
    // SECURITY: a deferred prologue that was refused (its statements failed with the refusal and never ran) is
    // audited and counted as the refused context switch it is; ROLLBACK above cleaned its connection.
    if (prologueRefusalOf(tx)) return this.#endRefused(tx);
    this.settings.audit?.enqueue(this.#event('rolled_back'));
    return 'rolled_back';
  }

  /** Ends a transaction whose deferred prologue was refused, as {@link #begin} ends one refused before it is returned. */
  #endRefused(tx: TenantTransaction): TransactionOutcome {
    const { code, detail } = prologueRefusalOf(tx)!.error as { code?: unknown; detail?: unknown };
    if ((code === 'TG002' || code === 'TG004') && typeof detail === 'string' && isValidTenantId(detail)) this.#refusedTenantId = detail;
    return this.#endWithoutTransaction();
  }

  /** The begun transaction, or undefined when it never began or its begin failed (nothing is checked out then). */
  async #begun(): Promise<TenantTransaction | undefined> {
    return this.#pending?.catch(() => undefined);
  }

  /** A begin that failed was a refused context switch: it is audited as such. */
  #endWithoutTransaction(): TransactionOutcome {
    clearTimeout(this.#deadline);
    // Never began, or refused before it could (rate limit, fair share, deadline): no context switch happened.
    if (!this.#pending || !this.#admitted) return (this.#ended = 'none');
    const event = this.#event('rejected');
    // An external tenant id that names no tenant has no tenant to be audited in (nor a numeric id for
    // refused_context_switches): the refusal is in the request log and the auth failure metric only.
    if (isValidTenantId(event.tenantId)) this.settings.audit?.enqueue(event);
    return (this.#ended = 'rejected');
  }

  #event(outcome: AuditEvent['outcome']): AuditEvent {
    const named = this.scope.userId !== null && isValidUserId(this.scope.userId) ? this.scope.userId : null;
    return {
      tenantId: this.identity?.tenantId ?? this.#refusedTenantId ?? this.scope.tenantId,
      // A refused external subject is no user id: the event names no user then.
      userId: this.identity ? this.identity.userId : named,
      requestId: this.requestId,
      source: 'api',
      operationType: this.operationType ?? null,
      operationName: this.operationName ?? null,
      outcome,
      startedAt: this.#startedAt,
      durationMs: performance.now() - this.#startedMs,
    };
  }
}

/** The tenant id of a prologue refusal for a user who is not a member of that (existing) tenant, else undefined. */
function notMemberOf(error: unknown): string | undefined {
  const { code, detail } = error as { code?: unknown; detail?: unknown };
  return code === 'TG002' && typeof detail === 'string' && isValidTenantId(detail) ? detail : undefined;
}

/**
 * Makes the pool destroy `client` when it is released, whoever releases it: pg-pool destroys a client released
 * with an error ("instead of releasing the client to the pool, the pool will … disconnect and destroy this client").
 */
function discardOnRelease(client: pg.PoolClient): void {
  const release = client.release.bind(client);
  client.release = (error?: Error | boolean) => release(error || new Error('discarded after its request deadline'));
}
