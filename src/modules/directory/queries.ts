import { sql } from 'kysely';
import type { Cursor } from '../../graphql/cursor.js';
import type { TenantTransaction } from '../../tenancy/tenant-transaction.js';
import type { TenantRow, UserRow } from './rows.js';

// No query here filters by tenant: Row Level Security scopes every statement to the transaction's tenant.

/** The current tenant's row (RLS shows exactly one). */
export function findCurrentTenant(tx: TenantTransaction): Promise<TenantRow | undefined> {
  return findCurrentTenantQuery(tx).executeTakeFirst();
}

/** The statement {@link findCurrentTenant} runs, unexecuted (`cli explain` compiles it). */
export function findCurrentTenantQuery(tx: TenantTransaction) {
  return tx.selectFrom('tenants').selectAll();
}

export function findUsersByIds(tx: TenantTransaction, ids: readonly string[]): Promise<UserRow[]> {
  return findUsersByIdsQuery(tx, ids).execute();
}

/** The statement {@link findUsersByIds} runs, unexecuted. */
export function findUsersByIdsQuery(tx: TenantTransaction, ids: readonly string[]) {
  return tx.selectFrom('users').selectAll().where('id', '=', sql<string>`any(${ids}::uuid[])`);
}

/** Members oldest first, keyset-paginated on (created_at, id); fetches `limit` rows. */
export function listUsers(tx: TenantTransaction, limit: number, after: Cursor | null): Promise<UserRow[]> {
  return listUsersQuery(tx, limit, after).execute();
}

/** The statement {@link listUsers} runs, unexecuted. */
export function listUsersQuery(tx: TenantTransaction, limit: number, after: Cursor | null) {
  let query = tx.selectFrom('users').selectAll().orderBy('created_at').orderBy('id').limit(limit);
  if (after) query = query.where(sql<boolean>`(created_at, id) > (${after.createdAt}::timestamptz, ${after.id}::uuid)`);
  return query;
}

export async function countUsers(tx: TenantTransaction): Promise<number> {
  const { count } = await countUsersQuery(tx).executeTakeFirstOrThrow();
  return count;
}

/** The statement {@link countUsers} runs, unexecuted. */
export function countUsersQuery(tx: TenantTransaction) {
  return tx.selectFrom('users').select(sql<number>`count(*)::int`.as('count'));
}

export function insertUser(
  tx: TenantTransaction,
  user: { email: string; displayName: string; role: 'ADMIN' | 'MEMBER' },
): Promise<UserRow> {
  return tx
    .insertInto('users')
    .values({ email: user.email, display_name: user.displayName, role: user.role })
    .returningAll()
    .executeTakeFirstOrThrow();
}
