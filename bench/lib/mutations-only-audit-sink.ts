import type { AuditEvent, AuditSink } from '../../src/tenancy/audit-sink.js';
import type { TenantTransaction } from '../../src/tenancy/tenant-transaction.js';

/**
 * The benchmark's "API without read audit events": the product's audit sink with every event dropped that is not
 * a mutation's, so API ÷ this is what recording the reads' context switches costs (issue 9 §2, §3). A mutation's
 * event is still written inside its transaction, and a rolled-back mutation's is still buffered and batched, as
 * in the product; a query's (or subscription's) event never reaches the audit writer.
 *
 * SECURITY: a measuring device only, plugged in through startServer's `auditSink` (not reachable from the
 * environment); the product records every context switch.
 */
export class MutationsOnlyAuditSink implements AuditSink {
  /** Events not passed on (the bench's test reads it). */
  dropped = 0;

  constructor(private readonly inner: AuditSink) {}

  writeInTransaction(tx: TenantTransaction, event: AuditEvent): Promise<void> {
    return this.inner.writeInTransaction(tx, event);
  }

  enqueue(event: AuditEvent): void {
    if (event.operationType === 'mutation') this.inner.enqueue(event);
    else this.dropped++;
  }
}
