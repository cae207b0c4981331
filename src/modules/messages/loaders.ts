import DataLoader from 'dataloader';
import { inKeyOrder } from '../../graphql/by-key.js';
import type { KeysetWindow } from '../../graphql/keyset.js';
import type { TransactionSource } from '../domain-module.js';
import type { UserRow } from '../directory/rows.js';
import { findMessagesByIds, listMessagesByConversations, listMessagesWithAuthorsByConversations } from './queries.js';
import type { MessageRow } from './rows.js';

export interface MessagePageKey {
  conversationId: string;
  /** Rows to fetch (a page size plus one, or 1 for lastMessage), from which cursor, which way. */
  window: KeysetWindow;
  /** The query selects the messages' authors (lookahead): fetch them in the same statement. */
  withAuthors?: boolean;
}

/**
 * One conversation's window of messages and, when asked for, their authors, fetched in the same statement. The
 * caller primes `userById` with `authors` (directory loaders), so `Message.author` costs no statement of its own.
 */
export interface MessagePage {
  messages: MessageRow[];
  authors: UserRow[];
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
    messagesByConversationId: new DataLoader<MessagePageKey, MessagePage, string>(
      async (keys) => {
        const results = new Map<string, MessagePage>();
        for (const { window, keys: group } of windowGroups(keys)) {
          const ids = [...new Set(group.map((key) => key.conversationId))];
          // One key that selects authors makes the whole group's statement bring them: still one statement.
          const rows = group.some((key) => key.withAuthors)
            ? await listMessagesWithAuthorsByConversations(await transaction(), ids, window)
            : (await listMessagesByConversations(await transaction(), ids, window)).map((message) => ({ message, author: undefined }));
          for (const key of group) {
            const own = rows.filter((row) => row.message.conversation_id === key.conversationId).slice(0, key.window.limit);
            results.set(pageKey(key), {
              messages: own.map((row) => row.message),
              authors: own.flatMap((row) => (row.author ? [row.author] : [])),
            });
          }
        }
        return keys.map((key) => results.get(pageKey(key))!);
      },
      { cacheKeyFn: pageKey },
    ),
  };
}

function pageKey(key: MessagePageKey): string {
  return `${key.conversationId}|${key.window.limit}|${cursorKey(key)}|${key.withAuthors ? 'authors' : ''}`;
}

/** Keys with the same direction and cursor (usually none: first pages) are answered by one statement. */
export function cursorKey(key: Pick<MessagePageKey, 'window'>): string {
  const { cursor, direction } = key.window;
  return `${direction}|${cursor ? `${cursor.createdAt}|${cursor.id}` : ''}`;
}

/**
 * Keys grouped by direction and cursor, each group with the one window that serves all its keys (their largest
 * limit; each key takes its own prefix): one statement per group.
 */
export function windowGroups<K extends Pick<MessagePageKey, 'window'>>(keys: readonly K[]): { window: KeysetWindow; keys: K[] }[] {
  const groups = new Map<string, K[]>();
  for (const key of keys) {
    const group = groups.get(cursorKey(key));
    if (group) group.push(key);
    else groups.set(cursorKey(key), [key]);
  }
  return [...groups.values()].map((group) => ({
    window: { ...group[0]!.window, limit: Math.max(...group.map((key) => key.window.limit)) },
    keys: group,
  }));
}

declare module '../loaders.js' {
  /** This module's loaders, in every request's `context.loaders`. */
  interface Loaders extends ReturnType<typeof createMessageLoaders> {}
}
