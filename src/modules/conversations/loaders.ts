import DataLoader from 'dataloader';
import { inKeyOrder } from '../../graphql/by-key.js';
import type { KeysetWindow } from '../../graphql/keyset.js';
import type { TransactionSource } from '../domain-module.js';
import { cursorKey, windowGroups } from '../messages/loaders.js';
import { findConversationsByIds, findConversationsWithMessagesByIds, type ConversationWithMessages } from './queries.js';
import type { ConversationRow } from './rows.js';

export function createConversationLoaders(transaction: TransactionSource) {
  return {
    /** Conversations of the current tenant by id; null for ids the tenant does not have. */
    conversationById: new DataLoader<string, ConversationRow | null>(async (ids) =>
      inKeyOrder(ids, await findConversationsByIds(await transaction(), ids), (row) => row.id),
    ),

    /**
     * Conversations by id, each with a window of its messages and their authors (for `Query.conversation` when
     * the query selects them, see resolvers.ts). Keys whose windows share a direction and cursor are answered
     * by one statement fetching the largest limit among them; each key gets its own prefix.
     */
    conversationWithMessagesById: new DataLoader<ConversationMessagesKey, ConversationWithMessages | null, string>(
      async (keys) => {
        const results = new Map<string, ConversationWithMessages | null>();
        for (const { window, keys: group } of windowGroups(keys)) {
          const ids = [...new Set(group.map((key) => key.id))];
          const found = new Map(
            (await findConversationsWithMessagesByIds(await transaction(), ids, window)).map((row) => [row.conversation.id, row]),
          );
          for (const key of group) {
            const row = found.get(key.id);
            results.set(conversationMessagesKey(key), row ? { ...row, messages: row.messages.slice(0, key.window.limit) } : null);
          }
        }
        return keys.map((key) => results.get(conversationMessagesKey(key))!);
      },
      { cacheKeyFn: conversationMessagesKey },
    ),
  };
}

export interface ConversationMessagesKey {
  id: string;
  /** The messages to bring with the conversation. */
  window: KeysetWindow;
}

function conversationMessagesKey(key: ConversationMessagesKey): string {
  return `${key.id}|${key.window.limit}|${cursorKey(key)}`;
}

declare module '../loaders.js' {
  /** This module's loaders, in every request's `context.loaders`. */
  interface Loaders extends ReturnType<typeof createConversationLoaders> {}
}
