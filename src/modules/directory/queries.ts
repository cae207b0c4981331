import { sql } from 'kysely';
import { keysetScan, WINDOW_SHAPE, type KeysetWindow } from '../../graphql/keyset.js';
import { CachedStatement } from '../../db/statement-cache.js';
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
  return usersByIds.execute(tx, ids);
}

/** The statement {@link findUsersByIds} runs, unexecuted. */
export function findUsersByIdsQuery(tx: TenantTransaction, ids: readonly string[]) {
  return tx
    .selectFrom('users')
    .selectAll()
    .where('id', '=', sql<string>`any(${ids}::uuid[])`);
}
const usersByIds = new CachedStatement(findUsersByIdsQuery);

/** Members oldest first, keyset-paginated on (created_at, id); fetches `window.limit` rows in scan order. */
export function listUsers(tx: TenantTransaction, window: KeysetWindow): Promise<UserRow[]> {
  return usersPage.execute(tx, window);
}

/** The statement {@link listUsers} runs, unexecuted. */
export function listUsersQuery(tx: TenantTransaction, window: KeysetWindow) {
  const scan = keysetScan('asc', window);
  let query = tx.selectFrom('users').selectAll().orderBy('created_at', scan.order).orderBy('id', scan.order).limit(window.limit);
  if (scan.predicate) query = query.where(scan.predicate);
  return query;
}
const usersPage = new CachedStatement(listUsersQuery, { shape: WINDOW_SHAPE });

export async function countUsers(tx: TenantTransaction): Promise<number> {
  const { count } = await countUsersQuery(tx).executeTakeFirstOrThrow();
  return count;
}

/** The statement {@link countUsers} runs, unexecuted. */
export function countUsersQuery(tx: TenantTransaction) {
  return tx.selectFrom('users').select(sql<number>`count(*)::int`.as('count'));
}

export function insertUser(tx: TenantTransaction, user: NewUser): Promise<UserRow> {
  return insertUserQuery(tx, user).executeTakeFirstOrThrow();
}

export interface NewUser {
  email: string;
  displayName: string;
  role: 'ADMIN' | 'MEMBER';
}

/** The statement {@link insertUser} runs, unexecuted. */
export function insertUserQuery(tx: TenantTransaction, user: NewUser) {
  return tx.insertInto('users').values({ email: user.email, display_name: user.displayName, role: user.role }).returningAll();
}
