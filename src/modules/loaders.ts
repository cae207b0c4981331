import type { TenantTransaction } from '../tenancy/tenant-transaction.js';
import { createConversationLoaders } from './conversations/loaders.js';
import { createMessageLoaders } from './messages/loaders.js';
import { createTenancyLoaders } from './tenancy/loaders.js';

/** Hands loaders the request's transaction, begun on first use. */
export type TransactionSource = () => Promise<TenantTransaction>;

/**
 * Every DataLoader of one request. Built per request and bound to its transaction: a loader cache shared
 * across requests could hand one tenant's rows to another.
 */
export function createLoaders(transaction: TransactionSource) {
  return {
    ...createTenancyLoaders(transaction),
    ...createConversationLoaders(transaction),
    ...createMessageLoaders(transaction),
  };
}

export type Loaders = ReturnType<typeof createLoaders>;
