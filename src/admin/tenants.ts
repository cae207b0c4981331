import type pg from 'pg';
import { isValidExternalSubject, isValidExternalTenantId, isValidTenantId } from '../ids/entity-ids.js';
import { enterTenant } from '../tenancy/enter-tenant.js';
import { withOwnerTransaction } from './owner-client.js';

export interface ProvisionedTenant {
  tenant: { id: string; name: string; externalId: string | null };
  user: { id: string; email: string; displayName: string; role: 'ADMIN'; externalSubject: string | null };
}

export interface CreateTenantInput {
  name: string;
  adminEmail: string;
  adminName?: string;
  /** A chosen id (decimal string); by default a random 12-digit id. */
  id?: string;
  /** The identity provider's name for the organisation (tenants.external_id), e.g. `org_2abc`. */
  externalId?: string;
  /** The identity provider's `sub` of the first ADMIN (users.external_subject). */
  adminSubject?: string;
}

/** Creates a tenant and its first ADMIN in one transaction. Throws on a taken id or invalid values. */
export function createTenant(ownerUrl: string, input: CreateTenantInput): Promise<ProvisionedTenant> {
  return withOwnerTransaction(ownerUrl, (client) => insertTenantWithAdmin(client, input));
}

export async function insertTenantWithAdmin(client: pg.Client, input: CreateTenantInput): Promise<ProvisionedTenant> {
  if (input.id !== undefined && !isValidTenantId(input.id)) {
    throw new Error(`Tenant id must be a positive 64-bit integer, received ${JSON.stringify(input.id)}`);
  }
  if (input.externalId !== undefined && !isValidExternalTenantId(input.externalId)) {
    throw new Error(
      `External tenant id must be 1 to 255 printable ASCII characters without spaces or quotes, not all digits; received ${JSON.stringify(input.externalId)}`,
    );
  }
  if (input.adminSubject !== undefined && !isValidExternalSubject(input.adminSubject)) {
    throw new Error(`Subject must be 1 to 255 printable ASCII characters without spaces or quotes; received ${JSON.stringify(input.adminSubject)}`);
  }
  const id = input.id ?? (await client.query<{ id: string }>('select (1 + floor(random() * 999999999999))::bigint::text as id')).rows[0]!.id;
  await enterTenant(client, id);
  const tenant = await client.query<{ id: string; name: string; externalId: string | null }>(
    'insert into tenants (id, name, external_id) values ($1, $2, $3) returning id::text, name, external_id as "externalId"',
    [id, input.name, input.externalId ?? null],
  );
  const user = await client.query<{ id: string; email: string; display_name: string; external_subject: string | null }>(
    "insert into users (email, display_name, role, external_subject) values ($1, $2, 'ADMIN', $3) returning id, email, display_name, external_subject",
    [input.adminEmail, input.adminName ?? input.adminEmail.split('@')[0], input.adminSubject ?? null],
  );
  const row = user.rows[0]!;
  return {
    tenant: tenant.rows[0]!,
    user: { id: row.id, email: row.email, displayName: row.display_name, role: 'ADMIN', externalSubject: row.external_subject },
  };
}

export interface Member {
  id: string;
  email: string;
  role: 'ADMIN' | 'MEMBER';
  /** users.external_subject: the `sub` the identity provider gives the member. */
  externalSubject: string | null;
  /** The tenant's external id, which tokens may name it by. */
  tenantExternalId: string | null;
  /** Whether the tenant is suspended (no tokens are issued for it then). */
  tenantSuspended: boolean;
}

/** A member of a tenant by id or email, or null. Runs inside that tenant's context. */
export function findMember(ownerUrl: string, tenantId: string, by: { userId: string } | { email: string }): Promise<Member | null> {
  return withOwnerTransaction(ownerUrl, async (client) => {
    await enterTenant(client, tenantId);
    // SECURITY: the explicit tenant_id filter matters: an owner that is a superuser (the embedded database's is)
    // bypasses RLS, and without it a user or an email of another tenant would be found here.
    const columns = `u.id, u.email, u.role, u.external_subject as "externalSubject", t.external_id as "tenantExternalId",
                     t.suspended_at is not null as "tenantSuspended"
                from users u join tenants t on t.id = u.tenant_id`;
    const { rows } =
      'userId' in by
        ? await client.query<Member>(`select ${columns} where u.tenant_id = $1 and u.id = $2`, [tenantId, by.userId])
        : await client.query<Member>(`select ${columns} where u.tenant_id = $1 and lower(u.email) = lower($2)`, [tenantId, by.email]);
    return rows[0] ?? null;
  });
}

/**
 * The first ADMIN of up to `limit` tenants, by tenant name (demo headers at startup). Reads across
 * tenants, so it needs an owner that bypasses RLS (a superuser, as the embedded database's is).
 */
export function listTenantAdmins(
  ownerUrl: string,
  limit: number,
): Promise<{ tenantId: string; tenantName: string; userId: string; email: string }[]> {
  return withOwnerTransaction(ownerUrl, async (client) => {
    const { rows } = await client.query(
      `select distinct on (t.name, t.id) t.id::text as "tenantId", t.name as "tenantName", u.id as "userId", u.email
         from tenants t join users u on u.tenant_id = t.id and u.role = 'ADMIN'
        order by t.name, t.id, u.created_at
        limit $1`,
      [limit],
    );
    return rows;
  });
}
