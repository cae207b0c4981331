import type { AppDatabase } from '../db/kysely.js';
import { beginTenantTransaction, type TenantTransaction } from './tenant-transaction.js';
import type { TenantScope } from './transaction-prologue.js';

export type TransactionOutcome = 'committed' | 'rolled_back' | 'none';

export interface RequestTransactionSettings {
  readonly statementTimeoutMs: number;
  readonly idleInTransactionTimeoutMs: number;
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
 */
export class RequestTransaction {
  #pending: Promise<TenantTransaction> | undefined;
  #ended: TransactionOutcome | undefined;
  /** Set once Apollo knows the operation: queries run READ ONLY, mutations READ WRITE. */
  operationType: 'query' | 'mutation' | 'subscription' | undefined;

  constructor(
    private readonly database: AppDatabase,
    readonly scope: TenantScope,
    private readonly settings: RequestTransactionSettings,
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
    this.#pending ??= beginTenantTransaction(this.database, this.scope, {
      readOnly: this.operationType !== 'mutation',
      statementTimeoutMs: this.settings.statementTimeoutMs,
      idleInTransactionTimeoutMs: this.settings.idleInTransactionTimeoutMs,
    });
    return this.#pending;
  }

  /**
   * Commits, or does nothing when the transaction never began. If COMMIT fails the transaction is rolled
   * back (Kysely keeps the connection checked out after a failed commit until rollback, kysely#1990) and the
   * error is rethrown so the response cannot claim success.
   */
  async commit(): Promise<TransactionOutcome> {
    const tx = await this.#end('committed');
    if (!tx) return 'none';
    try {
      await tx.commit().execute();
      return 'committed';
    } catch (error) {
      this.#ended = 'rolled_back';
      await tx.rollback().execute().catch(() => {});
      throw error;
    }
  }

  /** Rolls back, or does nothing when the transaction never began or already ended. */
  async rollback(): Promise<TransactionOutcome> {
    const tx = await this.#end('rolled_back');
    if (!tx) return 'none';
    // Kysely releases the connection even when ROLLBACK itself fails (dead connection).
    await tx.rollback().execute().catch(() => {});
    return 'rolled_back';
  }

  /** Marks the end and returns the transaction to finish, or undefined when there is nothing to finish. */
  async #end(outcome: TransactionOutcome): Promise<TenantTransaction | undefined> {
    if (this.#ended) return undefined;
    this.#ended = outcome;
    if (!this.#pending) return undefined;
    // A begin that failed left nothing checked out (see beginTenantTransaction).
    return this.#pending.catch(() => undefined);
  }
}
