import type pg from 'pg';
import { isValidTenantId } from '../ids/entity-ids.js';

/**
 * The owner-side "enter a tenant": sets the tenant of the caller's open transaction on a connection the caller
 * owns (the admin code's owner connections, the CLI's seeding, tests that write as the owner). Use it after
 * `begin`; the setting ends with that transaction. Requests of the API enter their tenant through the
 * transaction prologue instead (transaction-prologue.ts), which also checks the user's membership.
 *
 * SECURITY: transaction-local (`SET LOCAL`, the same effect as `set_config(…, true)`, and the one form Citus
 * forwards to its workers, so the admin tools work in either TENANT_CONTEXT_MODE), like every tenant context, so
 * a pooled or reused connection never carries the tenant past commit or rollback. Outside a transaction the setting would vanish
 * at once and the statements after it would see no tenant. The tenant id is checked first: a malformed one
 * is a programming error, not a tenant without rows.
 *
 * Throws TypeError on a malformed tenant id; rejects with the database's error if the statement fails.
 */
export async function enterTenant(client: Pick<pg.ClientBase, 'query'>, tenantId: string): Promise<void> {
  if (!isValidTenantId(tenantId)) {
    throw new TypeError(`enterTenant expected a positive 64-bit decimal tenant id, received ${JSON.stringify(tenantId)}`);
  }
  // SET takes no parameters: the id is inlined, which the check above makes safe (decimal digits only).
  await client.query(`set local app.current_tenant = '${tenantId}'`);
}
