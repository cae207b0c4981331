import type { TenantTransaction } from './tenant-transaction.js';

// The port through which a request transaction reports its tenant context switches. Defined here, by the code
// that reports them, so that src/tenancy does not import src/audit; src/audit (AuditLog) implements it on top of
// tenant transactions. Dependencies point one way: audit -> tenancy.

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
  /** Subscriptions only, on the event written when one ends: the events it delivered (absent otherwise). */
  eventsDelivered?: number;
}

/** Where RequestTransaction reports its context switches. */
export interface AuditSink {
  /** Writes the event inside the caller's transaction: it commits (or not) with the change it describes. */
  writeInTransaction(tx: TenantTransaction, event: AuditEvent): Promise<void>;
  /** Buffers the event for a later batched write, off the request path. */
  enqueue(event: AuditEvent): void;
}
