import { Counter, Gauge, type Registry } from 'prom-client';
import { AUDIT_DROP_REASONS, type AuditDropReason, type AuditObserver } from '../audit/audit-log.js';
import type { Logger } from 'pino';

/** At most one log line per drop reason (with the count since the last one) this often; the counter is exact. */
const DROP_LOG_INTERVAL_MS = 10_000;

/**
 * The audit writer's metrics and log lines: `tenantgraph_audit_events_pending` (the loss bound in use),
 * `tenantgraph_audit_events_written_total`, `tenantgraph_audit_events_dropped_total{reason}` and
 * `tenantgraph_audit_write_retries_total`. A lost event is always counted and always logged, but a flood of
 * drops (a full buffer) logs one line per reason every DROP_LOG_INTERVAL_MS, not one per event.
 */
export function auditObserver(registry: Registry, logger: Logger, pending: () => number): AuditObserver {
  new Gauge({
    name: 'tenantgraph_audit_events_pending',
    help: 'Buffered audit events not yet written (a crash would lose these); never more than AUDIT_BUFFER_MAX_EVENTS.',
    registers: [registry],
    collect() {
      this.set(pending());
    },
  });
  const written = new Counter({ name: 'tenantgraph_audit_events_written_total', help: 'Buffered audit events committed.', registers: [registry] });
  const dropped = new Counter({
    name: 'tenantgraph_audit_events_dropped_total',
    help: 'Audit events lost: buffer_full (AUDIT_BUFFER_MAX_EVENTS reached), rejected (the database refused the event alone), shutdown.',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  const retries = new Counter({
    name: 'tenantgraph_audit_write_retries_total',
    help: 'Audit batch writes that failed because the database was unavailable; their events stay buffered.',
    registers: [registry],
  });
  for (const reason of AUDIT_DROP_REASONS) dropped.inc({ reason }, 0);

  const unlogged = new Map<AuditDropReason, { count: number; loggedAt: number }>();
  return {
    dropped(reason, count, error) {
      dropped.inc({ reason }, count);
      const state = unlogged.get(reason) ?? { count: 0, loggedAt: -Infinity };
      state.count += count;
      unlogged.set(reason, state);
      if (reason === 'buffer_full' && performance.now() - state.loggedAt < DROP_LOG_INTERVAL_MS) return;
      logger.error({ reason, dropped: state.count, pending: pending(), err: error }, 'audit events lost');
      state.count = 0;
      state.loggedAt = performance.now();
    },
    retrying(count, error) {
      retries.inc();
      logger.warn({ pending: count, err: error }, 'audit events could not be written now; they stay buffered and are written again');
    },
    written(count) {
      written.inc(count);
    },
  };
}
