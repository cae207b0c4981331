import type { CompiledQuery, Kysely } from 'kysely';
import type pg from 'pg';
import type { Database } from '../db/kysely.js';
import type { AuditEvent, AuditSink } from '../tenancy/audit-sink.js';
import type { TenantTransaction } from '../tenancy/tenant-transaction.js';
import type { TenantContextMode } from '../db/tenant-catalog.js';
import { writeAuditBatch, type BatchResult } from './audit-batch-writer.js';
import { auditRow } from './audit-row.js';
import { CachedStatement } from '../db/statement-cache.js';

/**
 * Why buffered events were lost, a closed set (it labels `tenantgraph_audit_events_dropped_total`):
 * `buffer_full` the buffer already held `maxPending` unwritten events; `rejected` the database refused the event
 * even when written alone (bad data); `shutdown` the database was unavailable during the last write on close.
 */
export type AuditDropReason = 'buffer_full' | 'rejected' | 'shutdown';
export const AUDIT_DROP_REASONS: readonly AuditDropReason[] = ['buffer_full', 'rejected', 'shutdown'];

/** Sees what the writer does: metrics and logs (create-server.ts wires both). */
export interface AuditObserver {
  /** `count` events were lost for `reason`; `error` is the database's answer for `rejected`. */
  dropped(reason: AuditDropReason, count: number, error?: unknown): void;
  /** A write failed because the database was unavailable; the events stay buffered and are written again. */
  retrying(count: number, error: unknown): void;
  /** `count` events were committed (into audit_events, or refused_context_switches for an unknown tenant). */
  written?(count: number): void;
}

export interface AuditLogOptions {
  /** Buffered events are written at least this often; also the pause before a write is tried again. */
  flushIntervalMs: number;
  /** A batch (one transaction) holds at most this many events; a buffer of this many is written at once. */
  batchSize: number;
  /**
   * The loss bound: events buffered or being written, never more. An event that arrives when this many wait is
   * dropped (counted and logged as `buffer_full`); a crash loses at most this many.
   */
  maxPending: number;
  observer?: AuditObserver;
  /** How batches apply each tenant (TENANT_CONTEXT_MODE, transaction-prologue.ts); default `standard`. */
  tenantContext?: TenantContextMode;
}

/**
 * The audit trail writer.
 *
 * Mutations write their event in their own transaction (a committed change always has its event). Reads, and
 * requests that ended without committing, are buffered and written in batches off the request path, on a pool
 * of their own (create-server.ts), so they never wait behind tenant traffic for a connection.
 *
 * Loss bound: at most `maxPending` events are unwritten at any time (buffered plus the batch being written), so
 * that is the most a crash can lose. While the database is unavailable they wait and the write is retried every
 * `flushIntervalMs`; when the bound is reached, new events are dropped and counted (`buffer_full`). One bad
 * event costs only itself (see writeAuditBatch).
 */
export class AuditLog implements AuditSink {
  #buffer: AuditEvent[] = [];
  #writing = 0;
  #timer: NodeJS.Timeout;
  #tail: Promise<void> = Promise.resolve();
  #busy = false;
  #retryAfter = 0;
  /** The last drain stopped because the database was unavailable (its events wait for a retry). */
  #unavailable = false;

  constructor(
    private readonly pool: pg.Pool,
    private readonly options: AuditLogOptions,
  ) {
    if (!(options.batchSize >= 1 && options.maxPending >= options.batchSize)) {
      throw new RangeError(
        `Audit buffer: expected 1 <= batchSize <= maxPending, received batchSize ${options.batchSize}, maxPending ${options.maxPending}`,
      );
    }
    this.#timer = setInterval(() => {
      if (!this.#busy) void this.flush();
    }, options.flushIntervalMs);
    this.#timer.unref();
  }

  async writeInTransaction(tx: TenantTransaction, event: AuditEvent): Promise<void> {
    await auditInsert.execute(tx, auditRow(event));
  }

  enqueue(event: AuditEvent): void {
    if (this.pending >= this.options.maxPending) {
      this.options.observer?.dropped('buffer_full', 1);
      return;
    }
    this.#buffer.push(event);
    if (this.#buffer.length >= this.options.batchSize && !this.#busy && Date.now() >= this.#retryAfter) void this.flush();
  }

  /** Events not yet written: buffered, or in the batch being written. Never more than `maxPending`. */
  get pending(): number {
    return this.#buffer.length + this.#writing;
  }

  /**
   * Writes every event buffered when the write begins, batch by batch; writes run one after another. Resolves
   * (never rejects) when they are written, or when the database was unavailable: then the events stay buffered for
   * the next attempt. Events that arrive meanwhile wait for the next flush (the timer's, at most
   * `flushIntervalMs` later) unless they fill a whole batch.
   */
  flush(): Promise<void> {
    this.#tail = this.#tail.then(() => this.#drain());
    return this.#tail;
  }

  /**
   * Stops the timer and writes what is buffered, also what arrives meanwhile; what the database cannot take then
   * is lost (`shutdown`).
   */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    do await this.flush();
    while (this.#buffer.length && !this.#unavailable);
    if (this.#buffer.length) {
      this.options.observer?.dropped('shutdown', this.#buffer.length);
      this.#buffer = [];
    }
  }

  /**
   * Writes what was buffered when it began, and goes on only while a whole batch waits. Under steady load the
   * events that arrive during a write are the next flush's: draining until the buffer was empty wrote them at once,
   * a few at a time, so batches shrank to what arrived during one write (~15 events at 500 requests/s instead of
   * 500), each with its own transaction, and a flush cost its fixed share per event many times over.
   */
  async #drain(): Promise<void> {
    this.#busy = true;
    this.#unavailable = false;
    let owed = this.#buffer.length;
    try {
      while (this.#buffer.length && (owed > 0 || this.#buffer.length >= this.options.batchSize)) {
        const batch = this.#buffer.splice(0, this.options.batchSize);
        owed -= batch.length;
        this.#writing = batch.length;
        let result: BatchResult;
        try {
          result = await writeAuditBatch(this.pool, batch, this.options.tenantContext);
        } catch (error) {
          // writeAuditBatch answers every database failure itself; anything else keeps the batch for a retry too.
          result = { written: [], retry: batch, rejected: [], transactions: 0, unavailable: error };
        } finally {
          this.#writing = 0;
        }
        if (result.written.length) this.options.observer?.written?.(result.written.length);
        for (const { error } of result.rejected) this.options.observer?.dropped('rejected', 1, error);
        if (result.retry.length) {
          // Back at the front, in order: the bound still holds, since they were counted as pending all along.
          this.#buffer.unshift(...result.retry);
          this.#retryAfter = Date.now() + this.options.flushIntervalMs;
          this.#unavailable = true;
          this.options.observer?.retrying(result.retry.length, result.unavailable);
          return;
        }
      }
    } finally {
      this.#busy = false;
    }
  }
}

/**
 * The INSERT that stores `events`, compiled for a connection that is not a Kysely transaction: `cli sql --write`
 * sends the operator's statement over its own client and writes its event in that same transaction, before
 * COMMIT, as a mutation does. Run it only inside a transaction of the events' tenant (RLS checks each row).
 */
export function compileAuditInsert(db: Kysely<Database>, events: readonly AuditEvent[]): CompiledQuery {
  return db.insertInto('audit_events').values(events.map(auditRow)).compile();
}

/** A mutation's event, inserted in its transaction: built once per shape of the row (db/statement-cache.ts). */
const auditInsert = new CachedStatement((tx: TenantTransaction, row: ReturnType<typeof auditRow>) => tx.insertInto('audit_events').values(row));
