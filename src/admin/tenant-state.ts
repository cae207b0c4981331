import type pg from 'pg';
import { enterTenant } from '../tenancy/enter-tenant.js';
import { withOwnerTransaction } from './owner-client.js';

/**
 * A tenant's names and lifecycle as the owner reads them (issue 13): its external id and whether it is suspended.
 * The other owner-side changes (external-names.ts, tenant-suspension.ts) lock the row with {@link lockTenant}.
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

/** The tenant's row in its own context (FOR UPDATE when it is about to change); throws {@link TenantNotFoundError}. */
export async function lockTenant(client: pg.Client, tenantId: string, forUpdate: boolean): Promise<TenantState> {
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
