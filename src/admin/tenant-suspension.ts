import { randomUUID } from 'node:crypto';
import { LIFECYCLE_CHANNEL, type TenantLifecycleNotice as LifecycleNotice } from '../tenancy/tenant-lifecycle-events.js';
import { withOwnerTransaction } from './owner-client.js';
import { lockTenant, type TenantState } from './tenant-state.js';

/**
 * Suspending and resuming a tenant (issue 13 §2), owner-side: the change, its audit event and its announcement
 * (NOTIFY, see src/tenancy/tenant-lifecycle-events.ts) in one transaction.
 */

/**
 * Suspends the tenant: from the commit on, every request of its members is refused with 403 TENANT_SUSPENDED by
 * the transaction prologue (a request that entered before keeps running to its end); its rows are untouched.
 * Writes the audit event `tenant.suspended` (with the reason) in the same transaction and announces it on
 * {@link LIFECYCLE_CHANNEL}. Suspending a suspended tenant changes nothing and writes nothing; returns whether it changed.
 */
export function suspendTenant(ownerUrl: string, tenantId: string, reason: string | null): Promise<{ changed: boolean; state: TenantState }> {
  if (reason !== null && (reason.length < 1 || reason.length > 500))
    throw new TypeError(`A suspension reason is 1 to 500 characters, received ${reason.length}`);
  return changeLifecycle(ownerUrl, tenantId, 'tenant.suspended', reason);
}

/** Resumes a suspended tenant (audit event `tenant.resumed`); resuming an active tenant changes nothing. */
export function resumeTenant(ownerUrl: string, tenantId: string): Promise<{ changed: boolean; state: TenantState }> {
  return changeLifecycle(ownerUrl, tenantId, 'tenant.resumed', null);
}

async function changeLifecycle(
  ownerUrl: string,
  tenantId: string,
  event: LifecycleNotice['event'],
  reason: string | null,
): Promise<{ changed: boolean; state: TenantState }> {
  return withOwnerTransaction(ownerUrl, async (client) => {
    const before = await lockTenant(client, tenantId, true);
    const suspend = event === 'tenant.suspended';
    if ((before.suspendedAt !== null) === suspend) return { changed: false, state: before };
    await client.query(
      suspend
        ? 'update tenants set suspended_at = now(), suspension_reason = $2 where id = $1'
        : 'update tenants set suspended_at = null, suspension_reason = null where id = $1',
      suspend ? [tenantId, reason] : [tenantId],
    );
    await client.query(
      `insert into audit_events (tenant_id, created_at, user_id, request_id, source, operation_type, operation_name, outcome, duration_ms, detail)
       values ($1, now(), null, $2, 'cli', 'lifecycle', $3, 'committed', 0, $4)`,
      [tenantId, `cli-${randomUUID()}`, event, reason],
    );
    const notice: LifecycleNotice = { tenantId, event };
    await client.query('select pg_notify($1, $2)', [LIFECYCLE_CHANNEL, JSON.stringify(notice)]);
    return { changed: true, state: await lockTenant(client, tenantId, false) };
  });
}
