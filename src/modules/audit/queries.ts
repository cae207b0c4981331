import { sql } from 'kysely';
import { keysetScan, type KeysetWindow } from '../../graphql/keyset.js';
import type { TenantTransaction } from '../../tenancy/tenant-transaction.js';
import type { AuditEventRow } from './rows.js';

export interface AuditEventFilter {
  userId?: string | null;
  operationType?: string | null;
  since?: string | null;
}

/** The tenant's audit events, newest first, keyset-paginated on (created_at, id); fetches `window.limit` rows in scan order. */
export function listAuditEvents(tx: TenantTransaction, filter: AuditEventFilter, window: KeysetWindow): Promise<AuditEventRow[]> {
  return listAuditEventsQuery(tx, filter, window).execute();
}

/** The statement {@link listAuditEvents} runs, unexecuted (`cli explain` compiles it). */
export function listAuditEventsQuery(tx: TenantTransaction, filter: AuditEventFilter, window: KeysetWindow) {
  const scan = keysetScan('desc', window);
  let query = tx.selectFrom('audit_events').selectAll().orderBy('created_at', scan.order).orderBy('id', scan.order).limit(window.limit);
  if (filter.userId) query = query.where('user_id', '=', filter.userId);
  if (filter.operationType) query = query.where('operation_type', '=', filter.operationType);
  if (filter.since) query = query.where('created_at', '>=', filter.since);
  if (scan.predicate) query = query.where(scan.predicate);
  return query;
}
