import DataLoader from 'dataloader';
import { inKeyOrder } from '../../graphql/by-key.js';
import type { TransactionSource } from '../domain-module.js';
import { findCurrentTenant, findUsersByIds } from './queries.js';
import type { TenantRow, UserRow } from './rows.js';

export function createDirectoryLoaders(transaction: TransactionSource) {
  return {
    /** Users of the current tenant by id; null for ids the tenant does not have. */
    userById: new DataLoader<string, UserRow | null>(async (ids) =>
      inKeyOrder(ids, await findUsersByIds(await transaction(), ids), (user) => user.id),
    ),
    /** The current tenant, keyed by its id; any other id is null (RLS shows only the current tenant). */
    tenantById: new DataLoader<string, TenantRow | null>(async (ids) => {
      const tenant = await findCurrentTenant(await transaction());
      return inKeyOrder(ids, tenant ? [tenant] : [], (row) => row.id);
    }),
  };
}

declare module '../loaders.js' {
  /** This module's loaders, in every request's `context.loaders`. */
  interface Loaders extends ReturnType<typeof createDirectoryLoaders> {}
}
