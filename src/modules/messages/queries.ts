import { sql, type ExpressionBuilder } from 'kysely';
import type { Database } from '../../db/kysely.js';
import { keysetScan, WINDOW_SHAPE, type KeysetWindow } from '../../graphql/keyset.js';
import { CachedStatement } from '../../db/statement-cache.js';
import type { TenantTransaction } from '../../tenancy/tenant-transaction.js';
import type { UserRow } from '../directory/rows.js';
import type { MessageRow } from './rows.js';

export function findMessagesByIds(tx: TenantTransaction, ids: readonly string[]): Promise<MessageRow[]> {
  return messagesByIds.execute(tx, ids);
}

/** The statement {@link findMessagesByIds} runs, unexecuted (`cli explain` compiles it). */
export function findMessagesByIdsQuery(tx: TenantTransaction, ids: readonly string[]) {
  return tx
    .selectFrom('messages')
    .selectAll()
    .where('id', '=', sql<string>`any(${ids}::uuid[])`);
}
const messagesByIds = new CachedStatement(findMessagesByIdsQuery);

/**
 * `window.limit` messages of each conversation past `window.cursor` in `window.direction` (forward: the newest,
 * going back in time; backward: the oldest, going forward in time), in scan order, in one statement: a LATERAL
 * top-N per conversation, each an index range scan on (tenant_id, conversation_id, created_at desc, id desc),
 * read backward for a backward window.
 *
 * Written with the query builder rather than raw SQL so that Kysely plugins see the `messages` table (the
 * benchmark's explicit-tenant-filter mode adds its predicate there). It compiles to
 *   select "m".* from unnest($1::uuid[]) as c(id) cross join lateral
 *     (select "messages".* from "messages" where "messages"."conversation_id" = "c"."id" ... limit $n) as "m"
 */
export function listMessagesByConversations(tx: TenantTransaction, conversationIds: readonly string[], window: KeysetWindow): Promise<MessageRow[]> {
  return messagePages.execute(tx, conversationIds, window);
}

/** The statement {@link listMessagesByConversations} runs, unexecuted. */
export function listMessagesByConversationsQuery(tx: TenantTransaction, conversationIds: readonly string[], window: KeysetWindow) {
  const scan = keysetScan('desc', window, 'messages');
  return tx
    .selectFrom(sql<{ id: string }>`unnest(${conversationIds}::uuid[])`.as<'c'>(sql`c(id)`))
    .crossJoinLateral((eb) => {
      let page = eb.selectFrom('messages').selectAll('messages').whereRef('messages.conversation_id', '=', 'c.id');
      if (scan.predicate) page = page.where(scan.predicate);
      return page.orderBy('messages.created_at', scan.order).orderBy('messages.id', scan.order).limit(window.limit).as('m');
    })
    .selectAll('m');
}
const messagePages = new CachedStatement(listMessagesByConversationsQuery, { shape: WINDOW_SHAPE });

/** Every column of a user and of a message, for statements that bring them under prefixed names. */
export const AUTHOR_COLUMNS = [
  'id',
  'tenant_id',
  'email',
  'display_name',
  'role',
  'external_subject',
  'created_at',
] as const satisfies readonly (keyof UserRow)[];
export const MESSAGE_COLUMNS = [
  'id',
  'tenant_id',
  'conversation_id',
  'author_id',
  'body',
  'created_at',
] as const satisfies readonly (keyof MessageRow)[];
// A column a migration adds fails the type check here until it is listed (a prefixed row would miss it).
type Unlisted<Row, Listed extends readonly PropertyKey[]> = Exclude<keyof Row, Listed[number]>;
const everyColumnListed: [Unlisted<UserRow, typeof AUTHOR_COLUMNS>, Unlisted<MessageRow, typeof MESSAGE_COLUMNS>] extends [never, never]
  ? true
  : never = true;
void everyColumnListed;

/** Takes a row apart by column prefix: `author__id` goes to `author.id`; unprefixed columns to `rest`. */
export function splitPrefixed<P extends string>(
  row: Record<string, unknown>,
  prefixes: readonly P[],
): { rest: Record<string, unknown> } & Record<P, Record<string, unknown>> {
  const parts: Record<string, Record<string, unknown>> = { rest: {} };
  for (const prefix of prefixes) parts[prefix] = {};
  for (const column in row) {
    const [part, name] = splitColumn(column);
    const target = parts[part];
    // An unprefixed column, or one of a prefix not asked for, stays in `rest` under its own name.
    if (target) target[name] = row[column];
    else parts.rest![column] = row[column];
  }
  return parts as { rest: Record<string, unknown> } & Record<P, Record<string, unknown>>;
}

/**
 * `author__id` -> ['author', 'id'], `id` -> ['rest', 'id'], remembered: a dashboard splits ~2,000 columns per
 * request, all of a few dozen names (the columns of our own statements, so the map stays that small).
 */
const splitColumns = new Map<string, readonly [string, string]>();
function splitColumn(column: string): readonly [string, string] {
  let split = splitColumns.get(column);
  if (!split) {
    const at = column.indexOf('__');
    split = at > 0 ? [column.slice(0, at), column.slice(at + 2)] : ['rest', column];
    splitColumns.set(column, split);
  }
  return split;
}

/**
 * {@link listMessagesByConversations} with each message's author in the same statement (a join on the users'
 * primary key inside the LATERAL, so each conversation's page keeps its order), for when the query selects the
 * authors: one statement instead of two. The author's row comes back exactly as findUsersByIds returns it.
 */
export async function listMessagesWithAuthorsByConversations(
  tx: TenantTransaction,
  conversationIds: readonly string[],
  window: KeysetWindow,
): Promise<{ message: MessageRow; author: UserRow }[]> {
  const rows = await messagePagesWithAuthors.execute(tx, conversationIds, window);
  // The author's columns come back prefixed `author__` (the message has its own `author_id`).
  return rows.map((row) => {
    const { rest, author } = splitPrefixed(row, ['author']);
    return { message: rest as MessageRow, author: author as UserRow };
  });
}

/** The statement {@link listMessagesWithAuthorsByConversations} runs, unexecuted. */
export function listMessagesWithAuthorsByConversationsQuery(tx: TenantTransaction, conversationIds: readonly string[], window: KeysetWindow) {
  return tx
    .selectFrom(sql<{ id: string }>`unnest(${conversationIds}::uuid[])`.as<'c'>(sql`c(id)`))
    .crossJoinLateral((eb) => messagePageWithAuthors(eb, window))
    .selectAll('m');
}
const messagePagesWithAuthors = new CachedStatement(listMessagesWithAuthorsByConversationsQuery, { shape: WINDOW_SHAPE });

/**
 * The LATERAL of one conversation's window of messages with their authors, for an outer query whose rows are
 * conversations named `c` (their ids at least): {@link listMessagesWithAuthorsByConversations}, and the
 * conversations page that brings its conversations' messages (conversations/queries.ts).
 */
export function messagePageWithAuthors(eb: ExpressionBuilder<Database & { c: { id: string } }, 'c'>, window: KeysetWindow) {
  const scan = keysetScan('desc', window, 'messages');
  let page = eb
    .selectFrom('messages')
    .innerJoin('users', 'users.id', 'messages.author_id')
    .selectAll('messages')
    .select(AUTHOR_COLUMNS.map((column) => `users.${column} as author__${column}` as const))
    .whereRef('messages.conversation_id', '=', 'c.id');
  if (scan.predicate) page = page.where(scan.predicate);
  return page.orderBy('messages.created_at', scan.order).orderBy('messages.id', scan.order).limit(window.limit).as('m');
}

/**
 * Inserts a message into a conversation of the current tenant. Returns undefined, writing nothing, when the
 * conversation is not visible (absent, or another tenant's: RLS hides it from the SELECT feeding the insert).
 */
export async function insertMessage(
  tx: TenantTransaction,
  message: { conversationId: string; authorId: string; body: string },
): Promise<MessageRow | undefined> {
  return (await insertMessageWithAuthor(tx, message))?.message;
}

/**
 * {@link insertMessage}, with the author's row read in the same statement (a join on the users' primary key
 * after the insert), so the mutation's payload needs no statement of its own for `author`. `author` is undefined
 * only if the author's row is not visible to the tenant (never for the viewer, whom the prologue checked).
 */
export async function insertMessageWithAuthor(
  tx: TenantTransaction,
  message: { conversationId: string; authorId: string; body: string },
): Promise<{ message: MessageRow; author: UserRow | undefined } | undefined> {
  const [row] = await messageInsert.execute(tx, message);
  if (!row) return undefined;
  const { rest, author } = splitPrefixed(row, ['author']);
  return { message: rest as MessageRow, author: author.id == null ? undefined : (author as UserRow) };
}

/** The statement {@link insertMessageWithAuthor} runs, unexecuted. */
export function insertMessageQuery(tx: TenantTransaction, message: { conversationId: string; authorId: string; body: string }) {
  return tx
    .with('inserted', (db) =>
      db
        .insertInto('messages')
        .columns(['conversation_id', 'author_id', 'body'])
        .expression((eb) =>
          eb
            .selectFrom('conversations')
            .select(['conversations.id', sql<string>`${message.authorId}::uuid`.as('author_id'), sql<string>`${message.body}::text`.as('body')])
            .where('conversations.id', '=', message.conversationId),
        )
        .returningAll(),
    )
    .selectFrom('inserted')
    .leftJoin('users', 'users.id', 'inserted.author_id')
    .selectAll('inserted')
    .select(AUTHOR_COLUMNS.map((column) => `users.${column} as author__${column}` as const));
}
const messageInsert = new CachedStatement(insertMessageQuery);
