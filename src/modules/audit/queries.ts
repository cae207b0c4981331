import { sql } from 'kysely';
import type { Cursor } from '../../graphql/cursor.js';
import type { TenantTransaction } from '../../tenancy/tenant-transaction.js';
import type { AuditEventRow } from './rows.js';

export interface AuditEventFilter {
  userId?: string | null;
  operationType?: string | null;
  since?: string | null;
}

/** The tenant's audit events, newest first, keyset-paginated on (created_at, id); fetches `limit` rows. */
export function listAuditEvents(
  tx: TenantTransaction,
  filter: AuditEventFilter,
  limit: number,
  after: Cursor | null,
): Promise<AuditEventRow[]> {
  return listAuditEventsQuery(tx, filter, limit, after).execute();
}

/** The statement {@link listAuditEvents} runs, unexecuted (`cli explain` compiles it). */
export function listAuditEventsQuery(tx: TenantTransaction, filter: AuditEventFilter, limit: number, after: Cursor | null) {
  let query = tx.selectFrom('audit_events').selectAll().orderBy('created_at', 'desc').orderBy('id', 'desc').limit(limit);
  if (filter.userId) query = query.where('user_id', '=', filter.userId);
  if (filter.operationType) query = query.where('operation_type', '=', filter.operationType);
  if (filter.since) query = query.where('created_at', '>=', filter.since);
  if (after) query = query.where(sql<boolean>`(created_at, id) < (${after.createdAt}::timestamptz, ${after.id}::uuid)`);
  return query;
}
