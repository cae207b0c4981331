import { isValidExternalSubject, isValidExternalTenantId } from '../ids/entity-ids.js';
import { withOwnerTransaction } from './owner-client.js';
import { lockTenant, type TenantState } from './tenant-state.js';

/**
 * The identity provider's names of a tenant and of its members (issue 13 §1): `tenants.external_id`, the
 * organisation id tokens carry in the tenant claim, and `users.external_subject`, a member's `sub`. Owner-side, one
 * transaction each, inside the tenant's context with an explicit tenant filter (the owner may bypass RLS).
 */

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
