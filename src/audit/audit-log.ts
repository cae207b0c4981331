import type { CompiledQuery, Kysely } from 'kysely';
import type { AppDatabase, Database } from '../db/kysely.js';
import { literal, runPerTenantBatch } from '../tenancy/per-tenant-batch.js';
import type { TenantTransaction } from '../tenancy/tenant-transaction.js';

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
 * A batch is one transaction and one round trip; inside it each tenant's rows are inserted under that tenant
 * (RLS checks every row against the transaction's current tenant).
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
    for (const event of events) {
      const group = byTenant.get(event.tenantId);
      if (group) group.push(event);
      else byTenant.set(event.tenantId, [event]);
    }
    try {
      // One transaction and one round trip for the whole batch, however many tenants it spans.
      await runPerTenantBatch(
        this.database.pool,
        [...byTenant].map(([tenantId, tenantEvents]) => ({ tenantId, statements: [insertStatement(tenantEvents)] })),
      );
    } catch (error) {
      this.options.onError?.(error);
    }
  }
}

/**
 * The INSERT that stores `events`, compiled for a connection that is not a Kysely transaction: `cli sql --write`
 * sends the operator's statement over its own client and writes its event in that same transaction, before
 * COMMIT, as a mutation does. Run it only inside a transaction of the events' tenant (RLS checks each row).
 */
export function compileAuditInsert(db: Kysely<Database>, events: readonly AuditEvent[]): CompiledQuery {
  return db.insertInto('audit_events').values(events.map(toRow)).compile();
}

const COLUMNS = 'created_at, user_id, request_id, source, operation_type, operation_name, outcome, duration_ms';

/** The INSERT of one tenant's buffered events, every value a literal (runPerTenantBatch uses the simple protocol). */
function insertStatement(events: readonly AuditEvent[]): string {
  const values = events.map((event) => {
    const row = toRow(event);
    return `(${literal(row.created_at)}::timestamptz,${literal(row.user_id)}::uuid,${literal(row.request_id)},${literal(row.source)},${literal(row.operation_type)},${literal(row.operation_name)},${literal(row.outcome)},${literal(row.duration_ms)})`;
  });
  return `insert into audit_events (${COLUMNS}) values ${values.join(',')}`;
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
