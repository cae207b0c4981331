import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { isValidExternalSubject, isValidExternalTenantId } from '../ids/entity-ids.js';
import { enterTenant } from '../tenancy/enter-tenant.js';
import { LIFECYCLE_CHANNEL, type TenantLifecycleNotice as LifecycleNotice } from '../tenancy/tenant-lifecycle-events.js';
import { withOwnerTransaction } from './owner-client.js';

/**
 * Owner-side changes of a tenant's identity and lifecycle (issue 13): its external id, a member's external subject,
 * suspension and resumption. Each runs in one owner transaction inside the tenant's context, with an explicit
 * tenant filter (the owner may bypass RLS), and a lifecycle change writes its audit event in that transaction.
 */

export interface TenantState {
  id: string;
  name: string;
  externalId: string | null;
  suspendedAt: string | null;
  suspensionReason: string | null;
}

export class TenantNotFoundError extends Error {
  constructor(tenantId: string) {
    super(`No tenant ${tenantId}.`);
    this.name = 'TenantNotFoundError';
  }
}

/** The tenant's identity and lifecycle state; throws {@link TenantNotFoundError}. */
export function readTenantState(ownerUrl: string, tenantId: string): Promise<TenantState> {
  return withOwnerTransaction(ownerUrl, (client) => lockTenant(client, tenantId, false));
}

/**
 * Sets (or, with null, clears) the tenant's external id: the identity provider's name for the organisation that
 * tokens carry in the tenant claim. Throws a sentence when another tenant has it already.
 */
export function setTenantExternalId(ownerUrl: string, tenantId: string, externalId: string | null): Promise<TenantState> {
  if (externalId !== null && !isValidExternalTenantId(externalId)) {
    throw new TypeError(
      `An external tenant id is 1 to 255 printable ASCII characters without spaces, quotes or backslashes, and not all digits; received ${JSON.stringify(externalId)}`,
    );
  }
  return withOwnerTransaction(ownerUrl, async (client) => {
    await lockTenant(client, tenantId, true);
    try {
      await client.query('update tenants set external_id = $2 where id = $1', [tenantId, externalId]);
    } catch (error) {
      if ((error as { code?: string }).code === '23505')
        throw new Error(`External id ${JSON.stringify(externalId)} belongs to another tenant already.`);
      throw error;
    }
    return lockTenant(client, tenantId, false);
  });
}

/** Sets (or clears) a member's external subject: the `sub` its identity provider puts in its tokens. */
export function setUserExternalSubject(ownerUrl: string, tenantId: string, userId: string, subject: string | null): Promise<void> {
  if (subject !== null && !isValidExternalSubject(subject)) {
    throw new TypeError(
      `An external subject is 1 to 255 printable ASCII characters without spaces, quotes or backslashes; received ${JSON.stringify(subject)}`,
    );
  }
  return withOwnerTransaction(ownerUrl, async (client) => {
    await lockTenant(client, tenantId, false);
    let updated: number | null;
    try {
      ({ rowCount: updated } = await client.query('update users set external_subject = $3 where tenant_id = $1 and id = $2', [
        tenantId,
        userId,
        subject,
      ]));
    } catch (error) {
      if ((error as { code?: string }).code === '23505')
        throw new Error(`Subject ${JSON.stringify(subject)} belongs to another member of tenant ${tenantId} already.`);
      throw error;
    }
    if (!updated) throw new Error(`No member ${userId} in tenant ${tenantId}.`);
  });
}

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

/** The tenant's row in its own context (FOR UPDATE when it is about to change); throws {@link TenantNotFoundError}. */
async function lockTenant(client: pg.Client, tenantId: string, forUpdate: boolean): Promise<TenantState> {
  await enterTenant(client, tenantId);
  // SECURITY: the explicit id filter matters: an owner that is a superuser bypasses RLS.
  const { rows } = await client.query<TenantState>(
    `select id::text as id, name, external_id as "externalId", to_char(suspended_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as "suspendedAt",
            suspension_reason as "suspensionReason"
       from tenants where id = $1${forUpdate ? ' for update' : ''}`,
    [tenantId],
  );
  if (!rows[0]) throw new TenantNotFoundError(tenantId);
  return rows[0];
}
