import DataLoader from 'dataloader';
import { inKeyOrder } from '../../graphql/by-key.js';
import type { TransactionSource } from '../domain-module.js';
import { findConversationsByIds } from './queries.js';
import type { ConversationRow } from './rows.js';

export function createConversationLoaders(transaction: TransactionSource) {
  return {
    /** Conversations of the current tenant by id; null for ids the tenant does not have. */
    conversationById: new DataLoader<string, ConversationRow | null>(async (ids) =>
      inKeyOrder(ids, await findConversationsByIds(await transaction(), ids), (row) => row.id),
    ),
  };
}

declare module '../loaders.js' {
  /** This module's loaders, in every request's `context.loaders`. */
  interface Loaders extends ReturnType<typeof createConversationLoaders> {}
}
