import type pg from 'pg';
import { connectClient } from '../db/guarded-client.js';
import type { AppDatabase } from '../db/kysely.js';
import { isValidTenantId } from '../ids/entity-ids.js';
import { beginTenantTransaction } from './tenant-transaction.js';

/**
 * How other code learns that a tenant was suspended or resumed (issue 13 §2), e.g. to close the live sockets of
 * a suspended tenant. Requests need none of this: their prologue refuses a suspended tenant by itself.
 *
 * `cli tenant suspend|resume` (src/admin/tenant-lifecycle.ts) announces each change with NOTIFY on
 * {@link LIFECYCLE_CHANNEL} in the transaction that makes it, so listeners hear it exactly when it commits, on
 * every replica. NOTIFY is not stored: a listener that was not connected misses it, so one that must not miss a
 * suspension also asks {@link isTenantSuspended} when it (re)connects or admits a tenant.
 */
export const LIFECYCLE_CHANNEL = 'tenantgraph_tenant_lifecycle';

export interface TenantLifecycleNotice {
  readonly tenantId: string;
  readonly event: 'tenant.suspended' | 'tenant.resumed';
}

/**
 * Listens on {@link LIFECYCLE_CHANNEL} on a session connection of its own (`connectionString`: the app role, straight
 * to PostgreSQL, not through PgBouncer's transaction mode, which drops LISTEN). Malformed payloads are ignored.
 * `close()` ends the connection. Rejects when the connection cannot be made; a connection lost later is reported
 * to `onError` (then listen again, and re-check the tenants you serve with {@link isTenantSuspended}).
 */
export async function listenForTenantLifecycle(
  connectionString: string,
  onNotice: (notice: TenantLifecycleNotice) => void,
  onError: (error: Error) => void = () => {},
): Promise<{ close(): Promise<void> }> {
  const client = await connectClient({ connectionString, application_name: 'tenantgraph-lifecycle-listener' }, onError);
  client.on('notification', (message: pg.Notification) => {
    if (message.channel !== LIFECYCLE_CHANNEL || !message.payload) return;
    let notice: unknown;
    try {
      notice = JSON.parse(message.payload);
    } catch {
      return;
    }
    const { tenantId, event } = (notice ?? {}) as Partial<TenantLifecycleNotice>;
    if (typeof tenantId === 'string' && isValidTenantId(tenantId) && (event === 'tenant.suspended' || event === 'tenant.resumed'))
      onNotice({ tenantId, event });
  });
  await client.query(`listen ${LIFECYCLE_CHANNEL}`);
  return { close: () => client.end() };
}

/**
 * Whether the tenant is suspended now, read in a bookkeeping transaction of that tenant (under RLS, one round trip
 * plus the read). False for a tenant that does not exist.
 */
export async function isTenantSuspended(database: AppDatabase, tenantId: string): Promise<boolean> {
  const tx = await beginTenantTransaction(
    database,
    { tenantId, userId: null },
    { readOnly: true, statementTimeoutMs: 5000, idleInTransactionTimeoutMs: 5000 },
  );
  try {
    const row = await tx.selectFrom('tenants').select('suspended_at').executeTakeFirst();
    return row?.suspended_at != null;
  } finally {
    await tx.rollback().execute();
  }
}
