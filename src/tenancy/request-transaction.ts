import type { AuditEvent, AuditSink } from '../audit/audit-log.js';
import type { AppDatabase } from '../db/kysely.js';
import { beginTenantTransaction, type TenantTransaction, type TransactionStatementEvent } from './tenant-transaction.js';
import type { TenantScope } from './transaction-prologue.js';

/** 'rejected': the prologue refused the context (e.g. the user is not a member); 'none': never began. */
export type TransactionOutcome = 'committed' | 'rolled_back' | 'rejected' | 'none';

export interface RequestTransactionSettings {
  readonly statementTimeoutMs: number;
  readonly idleInTransactionTimeoutMs: number;
  /** Receives one event per context switch; none in tools that keep no audit trail. */
  readonly audit?: AuditSink;
  /** Sees each statement of each request transaction with the transaction (tenant, request id): metrics, slow-statement log. */
  readonly observeStatement?: (event: TransactionStatementEvent, transaction: RequestTransaction) => void;
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
 */
export class RequestTransaction {
  #pending: Promise<TenantTransaction> | undefined;
  #ended: TransactionOutcome | undefined;
  #startedAt = '';
  #startedMs = 0;
  /** Set once Apollo knows the operation: queries run READ ONLY, mutations READ WRITE. */
  operationType: 'query' | 'mutation' | 'subscription' | undefined;
  operationName: string | undefined;

  constructor(
    private readonly database: AppDatabase,
    readonly scope: TenantScope,
    private readonly settings: RequestTransactionSettings,
    readonly requestId: string,
  ) {}

  /** True once the transaction was begun (whether or not it has ended). */
  get began(): boolean {
    return this.#pending !== undefined;
  }

  get outcome(): TransactionOutcome | undefined {
    return this.#ended;
  }

  get(): Promise<TenantTransaction> {
    if (this.#ended) {
      return Promise.reject(new Error(`The request transaction has already ended (${this.#ended}); no statement may run after it`));
    }
    if (!this.#pending) {
      this.#startedAt = new Date().toISOString();
      this.#startedMs = performance.now();
      const observe = this.settings.observeStatement;
      this.#pending = beginTenantTransaction(
        this.database,
        this.scope,
        {
          readOnly: this.operationType !== 'mutation',
          statementTimeoutMs: this.settings.statementTimeoutMs,
          idleInTransactionTimeoutMs: this.settings.idleInTransactionTimeoutMs,
        },
        observe && ((event) => observe(event, this)),
      );
    }
    return this.#pending;
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
    const tx = await this.#begun();
    if (!tx) return this.#endWithoutTransaction();
    const audit = this.settings.audit;
    try {
      const auditInside = audit && this.operationType === 'mutation';
      if (auditInside) await audit.writeInTransaction(tx, this.#event('committed'));
      await tx.commit().execute();
      if (!auditInside) audit?.enqueue(this.#event('committed'));
      return 'committed';
    } catch (error) {
      this.#ended = 'rolled_back';
      await tx.rollback().execute().catch(() => {});
      audit?.enqueue(this.#event('rolled_back'));
      throw error;
    }
  }

  /** Rolls back, or does nothing when the transaction never began or already ended. */
  async rollback(): Promise<TransactionOutcome> {
    if (this.#ended) return 'none';
    this.#ended = 'rolled_back';
    const tx = await this.#begun();
    if (!tx) return this.#endWithoutTransaction();
    // Kysely releases the connection even when ROLLBACK itself fails (dead connection).
    await tx.rollback().execute().catch(() => {});
    this.settings.audit?.enqueue(this.#event('rolled_back'));
    return 'rolled_back';
  }

  /** The begun transaction, or undefined when it never began or its begin failed (nothing is checked out then). */
  async #begun(): Promise<TenantTransaction | undefined> {
    return this.#pending?.catch(() => undefined);
  }

  /** A begin that failed was a refused context switch: it is audited as such. */
  #endWithoutTransaction(): TransactionOutcome {
    if (!this.#pending) return (this.#ended = 'none');
    this.settings.audit?.enqueue(this.#event('rejected'));
    return (this.#ended = 'rejected');
  }

  #event(outcome: AuditEvent['outcome']): AuditEvent {
    return {
      tenantId: this.scope.tenantId,
      userId: this.scope.userId,
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
