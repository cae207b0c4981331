import type { AuditEvent } from '../tenancy/audit-sink.js';

/** An event as an `audit_events` row (the tenant comes from the transaction's context, see RLS defaults). */
export function auditRow(event: AuditEvent) {
  return {
    created_at: event.startedAt,
    user_id: event.userId,
    request_id: event.requestId,
    source: event.source,
    operation_type: event.operationType,
    operation_name: event.operationName?.slice(0, 200) ?? null,
    outcome: event.outcome,
    duration_ms: Math.max(0, Math.round(event.durationMs)),
    // Only subscription ends carry it, so the statements of every other event stay as they were.
    ...(event.eventsDelivered === undefined ? {} : { events_delivered: Math.max(0, Math.round(event.eventsDelivered)) }),
  };
}
