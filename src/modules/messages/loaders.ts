import DataLoader from 'dataloader';
import { inKeyOrder } from '../../graphql/by-key.js';
import type { Cursor } from '../../graphql/cursor.js';
import type { TransactionSource } from '../domain-module.js';
import { findMessagesByIds, listMessagesByConversations } from './queries.js';
import type { MessageRow } from './rows.js';

export interface MessagePageKey {
  conversationId: string;
  /** Rows to fetch (a page size plus one, or 1 for lastMessage). */
  limit: number;
  after: Cursor | null;
}

export function createMessageLoaders(transaction: TransactionSource) {
  return {
    /** Messages of the current tenant by id; null for ids the tenant does not have. */
    messageById: new DataLoader<string, MessageRow | null>(async (ids) =>
      inKeyOrder(ids, await findMessagesByIds(await transaction(), ids), (row) => row.id),
    ),

    /**
     * The newest messages of a conversation, newest first. Keys that share a cursor are answered by one
     * statement fetching the largest limit among them, each key taking its own prefix: `lastMessage` and
     * `messages(first: 5)` of twenty conversations cost one query together.
     */
    messagesByConversationId: new DataLoader<MessagePageKey, MessageRow[], string>(
      async (keys) => {
        const results = new Map<string, MessageRow[]>();
        for (const group of groupByCursor(keys)) {
          const limit = Math.max(...group.map((key) => key.limit));
          const ids = [...new Set(group.map((key) => key.conversationId))];
          const rows = await listMessagesByConversations(await transaction(), ids, limit, group[0]!.after);
          for (const key of group) {
            const own = rows.filter((row) => row.conversation_id === key.conversationId).slice(0, key.limit);
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
  return `${key.conversationId}|${key.limit}|${cursorKey(key)}`;
}

/** Keys with the same cursor (usually none: first pages) are answered by one statement. */
function cursorKey(key: MessagePageKey): string {
  return key.after ? `${key.after.createdAt}|${key.after.id}` : '';
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
