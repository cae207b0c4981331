import type { AppDatabase } from '../db/kysely.js';
import { beginTenantTransaction, type TenantTransaction } from '../tenancy/tenant-transaction.js';

export type AuditOutcome = 'committed' | 'rolled_back' | 'rejected';

/** One tenant context switch. */
export interface AuditEvent {
  tenantId: string;
  userId: string | null;
  requestId: string;
  source: 'api' | 'cli';
  operationType: 'query' | 'mutation' | 'subscription' | 'sql' | null;
  operationName: string | null;
  outcome: AuditOutcome;
  /** ISO timestamp of the switch's start. */
  startedAt: string;
  durationMs: number;
}

/** Where RequestTransaction reports its context switches. */
export interface AuditSink {
  /** Writes the event inside the caller's transaction: it commits (or not) with the change it describes. */
  writeInTransaction(tx: TenantTransaction, event: AuditEvent): Promise<void>;
  /** Buffers the event for a later batched write, off the request path. */
  enqueue(event: AuditEvent): void;
}

export interface AuditLogOptions {
  /** Buffered events are written at least this often. */
  flushIntervalMs: number;
  /** A full buffer is written at once; also the most events a crash can lose. */
  maxBuffered: number;
  onError?: (error: unknown) => void;
}

/**
 * The audit trail writer.
 *
 * Mutations write their event in their own transaction (a committed change always has its event). Reads, and
 * requests that ended without committing, are buffered and written in batches, so they add no round trip to
 * the request path. Crash bound: at most `maxBuffered` events, all younger than `flushIntervalMs`, are lost.
 * A batch is written one transaction per tenant, because RLS checks each row against the transaction's tenant.
 */
export class AuditLog implements AuditSink {
  #buffer: AuditEvent[] = [];
  #timer: NodeJS.Timeout;
  #flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly database: AppDatabase,
    private readonly options: AuditLogOptions,
  ) {
    this.#timer = setInterval(() => void this.flush(), options.flushIntervalMs);
    this.#timer.unref();
  }

  async writeInTransaction(tx: TenantTransaction, event: AuditEvent): Promise<void> {
    await tx.insertInto('audit_events').values(toRow(event)).execute();
  }

  enqueue(event: AuditEvent): void {
    this.#buffer.push(event);
    if (this.#buffer.length >= this.options.maxBuffered) void this.flush();
  }

  /** Number of events not yet written. */
  get pending(): number {
    return this.#buffer.length;
  }

  /** Writes every buffered event; flushes run one after another. */
  flush(): Promise<void> {
    this.#flushing = this.#flushing.then(() => this.#writeBuffered());
    return this.#flushing;
  }

  /** Writes what is buffered and stops the timer (shutdown). */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.flush();
  }

  async #writeBuffered(): Promise<void> {
    if (!this.#buffer.length) return;
    const events = this.#buffer;
    this.#buffer = [];
    const byTenant = new Map<string, AuditEvent[]>();
    for (const event of events) byTenant.set(event.tenantId, [...(byTenant.get(event.tenantId) ?? []), event]);
    for (const [tenantId, tenantEvents] of byTenant) {
      try {
        // SECURITY: written under the events' own tenant, like any tenant row; no user acts here.
        const tx = await beginTenantTransaction(this.database, { tenantId, userId: null }, {
          readOnly: false,
          statementTimeoutMs: 5000,
          idleInTransactionTimeoutMs: 5000,
        });
        try {
          await tx.insertInto('audit_events').values(tenantEvents.map(toRow)).execute();
          await tx.commit().execute();
        } catch (error) {
          await tx.rollback().execute().catch(() => {});
          throw error;
        }
      } catch (error) {
        this.options.onError?.(error);
      }
    }
  }
}

function toRow(event: AuditEvent) {
  return {
    created_at: event.startedAt,
    user_id: event.userId,
    request_id: event.requestId,
    source: event.source,
    operation_type: event.operationType,
    operation_name: event.operationName?.slice(0, 200) ?? null,
    outcome: event.outcome,
    duration_ms: Math.max(0, Math.round(event.durationMs)),
  };
}
