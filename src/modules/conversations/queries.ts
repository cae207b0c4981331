import { sql, type SelectQueryBuilder } from 'kysely';
import { keysetScan, WINDOW_SHAPE, type KeysetOrder, type KeysetWindow } from '../../graphql/keyset.js';
import { CachedStatement } from '../../db/statement-cache.js';
import type { Database } from '../../db/kysely.js';
import type { TenantTransaction } from '../../tenancy/tenant-transaction.js';
import type { UserRow } from '../directory/rows.js';
import { AUTHOR_COLUMNS, MESSAGE_COLUMNS, messagePageWithAuthors, splitPrefixed } from '../messages/queries.js';
import type { MessageRow } from '../messages/rows.js';
import type { ConversationRow } from './rows.js';

export interface ConversationFilter {
  archived?: boolean | null;
  titleContains?: string | null;
}

function applyFilter<O>(
  query: SelectQueryBuilder<Database, 'conversations', O>,
  filter: ConversationFilter,
): SelectQueryBuilder<Database, 'conversations', O> {
  let filtered = query;
  if (filter.archived != null) filtered = filtered.where('archived', '=', filter.archived);
  if (filter.titleContains) {
    const pattern = `%${filter.titleContains.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    filtered = filtered.where('title', 'ilike', pattern);
  }
  return filtered;
}

/**
 * Newest first, keyset-paginated on (created_at, id) descending; fetches `window.limit` rows past the cursor,
 * in scan order (backward windows come oldest first: `toConnection` restores the normal order).
 */
export function listConversations(tx: TenantTransaction, filter: ConversationFilter, window: KeysetWindow): Promise<ConversationRow[]> {
  return conversationsPage.execute(tx, filter, window);
}

/** The filter's search text becomes a pattern (applyFilter): a page searching it is built per execution. */
const FILTER_UNCACHED = ['titleContains'] as const satisfies readonly (keyof ConversationFilter)[];

/** The statement {@link listConversations} runs, unexecuted (`cli explain` compiles it). */
export function listConversationsQuery(tx: TenantTransaction, filter: ConversationFilter, window: KeysetWindow) {
  const scan = keysetScan('desc', window);
  let query = applyFilter(tx.selectFrom('conversations').selectAll(), filter)
    .orderBy('created_at', scan.order)
    .orderBy('id', scan.order)
    .limit(window.limit);
  if (scan.predicate) query = query.where(scan.predicate);
  return query;
}
const conversationsPage = new CachedStatement(listConversationsQuery, { shape: WINDOW_SHAPE, uncached: FILTER_UNCACHED });

/** A conversation of a page with a window of its messages, each with its author. */
export interface ConversationWithMessages {
  conversation: ConversationRow;
  messages: { message: MessageRow; author: UserRow }[];
}

/**
 * {@link listConversations} with each conversation's `messageWindow` of messages and their authors in the same
 * statement (the messages LATERAL of {@link listMessagesWithAuthorsByConversations} joined to the page), for a
 * query that selects them: one statement instead of two. Conversations and messages each in scan order.
 */
export async function listConversationsWithMessages(
  tx: TenantTransaction,
  filter: ConversationFilter,
  window: KeysetWindow,
  messageWindow: KeysetWindow,
): Promise<ConversationWithMessages[]> {
  return groupConversationsWithMessages(await conversationsWithMessagesPage.execute(tx, filter, window, messageWindow));
}

/** The statement {@link listConversationsWithMessages} runs, unexecuted. */
export function listConversationsWithMessagesQuery(
  tx: TenantTransaction,
  filter: ConversationFilter,
  window: KeysetWindow,
  messageWindow: KeysetWindow,
) {
  return withMessages(tx, listConversationsQuery(tx, filter, window), keysetScan('desc', window).order, messageWindow);
}
const conversationsWithMessagesPage = new CachedStatement(listConversationsWithMessagesQuery, { shape: WINDOW_SHAPE, uncached: FILTER_UNCACHED });

/** {@link findConversationsByIds} with each conversation's `messageWindow` of messages and their authors, in one statement. */
export async function findConversationsWithMessagesByIds(
  tx: TenantTransaction,
  ids: readonly string[],
  messageWindow: KeysetWindow,
): Promise<ConversationWithMessages[]> {
  return groupConversationsWithMessages(await conversationsWithMessagesByIds.execute(tx, ids, messageWindow));
}

/** The statement {@link findConversationsWithMessagesByIds} runs, unexecuted. */
export function findConversationsWithMessagesByIdsQuery(tx: TenantTransaction, ids: readonly string[], messageWindow: KeysetWindow) {
  return withMessages(tx, findConversationsByIdsQuery(tx, ids), 'desc', messageWindow);
}
const conversationsWithMessagesByIds = new CachedStatement(findConversationsWithMessagesByIdsQuery, { shape: WINDOW_SHAPE });

/** `conversations` (a statement selecting conversations) as `c`, each row joined to its window of messages with authors. */
function withMessages(
  tx: TenantTransaction,
  conversations: SelectQueryBuilder<Database, 'conversations', ConversationRow>,
  order: KeysetOrder,
  messageWindow: KeysetWindow,
) {
  const messageOrder = keysetScan('desc', messageWindow).order;
  return tx
    .selectFrom(conversations.as('c'))
    .leftJoinLateral(
      (eb) => messagePageWithAuthors(eb, messageWindow),
      (join) => join.onTrue(),
    )
    .selectAll('c')
    .select(MESSAGE_COLUMNS.map((column) => `m.${column} as message__${column}` as const))
    .select(AUTHOR_COLUMNS.map((column) => `m.author__${column}` as const))
    .orderBy('c.created_at', order)
    .orderBy('c.id', order)
    .orderBy('m.created_at', messageOrder)
    .orderBy('m.id', messageOrder);
}

/** Rows of {@link withMessages}, one conversation after another, back into conversations with their messages. */
function groupConversationsWithMessages(rows: readonly Record<string, unknown>[]): ConversationWithMessages[] {
  const pages = new Map<string, ConversationWithMessages>();
  for (const row of rows) {
    const { rest, message, author } = splitPrefixed(row, ['message', 'author']);
    const conversation = rest as ConversationRow;
    let page = pages.get(conversation.id);
    if (!page) pages.set(conversation.id, (page = { conversation, messages: [] }));
    // A conversation without messages comes once, with null message columns (the LEFT JOIN).
    if (message.id != null) page.messages.push({ message: message as MessageRow, author: author as UserRow });
  }
  return [...pages.values()];
}

export async function countConversations(tx: TenantTransaction, filter: ConversationFilter): Promise<number> {
  const [row] = await conversationsCount.execute(tx, filter);
  if (!row) throw new Error('count(*) returned no row');
  return row.count;
}

/** The statement {@link countConversations} runs, unexecuted. */
export function countConversationsQuery(tx: TenantTransaction, filter: ConversationFilter) {
  return applyFilter(tx.selectFrom('conversations').select(sql<number>`count(*)::int`.as('count')), filter);
}
const conversationsCount = new CachedStatement(countConversationsQuery, { uncached: FILTER_UNCACHED });

export function findConversationsByIds(tx: TenantTransaction, ids: readonly string[]): Promise<ConversationRow[]> {
  return conversationsByIds.execute(tx, ids);
}

/** The statement {@link findConversationsByIds} runs, unexecuted. */
export function findConversationsByIdsQuery(tx: TenantTransaction, ids: readonly string[]) {
  return tx
    .selectFrom('conversations')
    .selectAll()
    .where('id', '=', sql<string>`any(${ids}::uuid[])`);
}
const conversationsByIds = new CachedStatement(findConversationsByIdsQuery);

export function insertConversation(tx: TenantTransaction, title: string, createdBy: string): Promise<ConversationRow> {
  return insertConversationQuery(tx, title, createdBy).executeTakeFirstOrThrow();
}

/** The statement {@link insertConversation} runs, unexecuted. */
export function insertConversationQuery(tx: TenantTransaction, title: string, createdBy: string) {
  return tx.insertInto('conversations').values({ title, created_by: createdBy }).returningAll();
}

/** Updates one conversation; undefined when no such conversation is visible to the tenant. */
export function updateConversation(
  tx: TenantTransaction,
  id: string,
  patch: { title?: string; archived?: boolean },
): Promise<ConversationRow | undefined> {
  return updateConversationQuery(tx, id, patch).executeTakeFirst();
}

/** The statement {@link updateConversation} runs, unexecuted. */
export function updateConversationQuery(tx: TenantTransaction, id: string, patch: { title?: string; archived?: boolean }) {
  return tx.updateTable('conversations').set(patch).where('id', '=', id).returningAll();
}
