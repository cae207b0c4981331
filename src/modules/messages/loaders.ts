import DataLoader from 'dataloader';
import { inKeyOrder } from '../../graphql/by-key.js';
import type { KeysetWindow } from '../../graphql/keyset.js';
import type { TransactionSource } from '../domain-module.js';
import { findMessagesByIds, listMessagesByConversations } from './queries.js';
import type { MessageRow } from './rows.js';

export interface MessagePageKey {
  conversationId: string;
  /** Rows to fetch (a page size plus one, or 1 for lastMessage), from which cursor, which way. */
  window: KeysetWindow;
}

export function createMessageLoaders(transaction: TransactionSource) {
  return {
    /** Messages of the current tenant by id; null for ids the tenant does not have. */
    messageById: new DataLoader<string, MessageRow | null>(async (ids) =>
      inKeyOrder(ids, await findMessagesByIds(await transaction(), ids), (row) => row.id),
    ),

    /**
     * A window of a conversation's messages in scan order (forward: newest first; backward: oldest first). Keys
     * that share a direction and a cursor are answered by one statement fetching the largest limit among them,
     * each key taking its own prefix: `lastMessage` and `messages(first: 5)` of twenty conversations cost one
     * query together; `messages(last: 5)` of twenty conversations one more (a backward scan is another LATERAL).
     */
    messagesByConversationId: new DataLoader<MessagePageKey, MessageRow[], string>(
      async (keys) => {
        const results = new Map<string, MessageRow[]>();
        for (const group of groupByCursor(keys)) {
          const limit = Math.max(...group.map((key) => key.window.limit));
          const ids = [...new Set(group.map((key) => key.conversationId))];
          const { cursor, direction } = group[0]!.window;
          const rows = await listMessagesByConversations(await transaction(), ids, { limit, cursor, direction });
          for (const key of group) {
            const own = rows.filter((row) => row.conversation_id === key.conversationId).slice(0, key.window.limit);
            results.set(pageKey(key), own);
          }
        }
        return keys.map((key) => results.get(pageKey(key))!);
      },
      { cacheKeyFn: pageKey },
    ),
  };
}

function pageKey(key: MessagePageKey): string {
  return `${key.conversationId}|${key.window.limit}|${cursorKey(key)}`;
}

/** Keys with the same direction and cursor (usually none: first pages) are answered by one statement. */
function cursorKey(key: MessagePageKey): string {
  const { cursor, direction } = key.window;
  return `${direction}|${cursor ? `${cursor.createdAt}|${cursor.id}` : ''}`;
}

function groupByCursor(keys: readonly MessagePageKey[]): MessagePageKey[][] {
  const groups = new Map<string, MessagePageKey[]>();
  for (const key of keys) {
    const group = groups.get(cursorKey(key));
    if (group) group.push(key);
    else groups.set(cursorKey(key), [key]);
  }
  return [...groups.values()];
}

declare module '../loaders.js' {
  /** This module's loaders, in every request's `context.loaders`. */
  interface Loaders extends ReturnType<typeof createMessageLoaders> {}
}
