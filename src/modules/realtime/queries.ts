import { sql } from 'kysely';
import type { TenantTransaction } from '../../tenancy/tenant-transaction.js';
import type { ConversationRow } from '../conversations/rows.js';
import type { UserRow } from '../directory/rows.js';
import type { MessageRow } from '../messages/rows.js';
import type { RealtimeEventRow } from './rows.js';

/** What one fan-out batch reads for one tenant, in one statement. */
export interface EventBatch {
  /** The subscribed users (of those asked about) who are still members of the tenant. */
  readonly members: readonly string[];
  /** The tenant is suspended (`cli tenant suspend`): its subscriptions end, nothing is delivered. */
  readonly suspended: boolean;
  /** Events after the position asked for, oldest first, contiguous (positions are gap-free per tenant). */
  readonly events: readonly RealtimeEventRow[];
  /** The payload rows of those events, for priming the batch's loaders. */
  readonly messages: readonly MessageRow[];
  readonly conversations: readonly ConversationRow[];
  /** Authors of the messages and creators of the conversations. */
  readonly users: readonly UserRow[];
}

// Rows as JSON, with bigint and timestamptz columns as the same text node-postgres hands out for a plain row
// (db/pool.ts keeps timestamptz a string: keyset cursors need its microseconds), so loaders primed from them
// hold exactly what a loader's own query would have returned.
const messageJson = sql`to_jsonb(m) || jsonb_build_object('tenant_id', m.tenant_id::text, 'created_at', m.created_at::text)`;
const conversationJson = sql`to_jsonb(c) || jsonb_build_object('tenant_id', c.tenant_id::text, 'created_at', c.created_at::text)`;
const userJson = sql`to_jsonb(u) || jsonb_build_object('tenant_id', u.tenant_id::text, 'created_at', u.created_at::text)`;

/**
 * Everything one delivery batch of one tenant needs, in ONE statement (issue 12 §2): the events after `after`
 * (at most `limit`), their messages, conversations and users, and which of `userIds` are still members. Runs in
 * the batch's tenant transaction, so every row is read under that tenant's RLS: another tenant's events, rows
 * and users do not exist here.
 */
export async function readEventBatch(tx: TenantTransaction, after: string, limit: number, userIds: readonly string[]): Promise<EventBatch> {
  const { rows } = await readEventBatchQuery(tx, after, limit, userIds).execute(tx);
  const row = rows[0]!;
  return {
    members: row.members,
    suspended: row.suspended,
    events: row.events ?? [],
    messages: row.messages ?? [],
    conversations: row.conversations ?? [],
    users: row.users ?? [],
  };
}

/** The statement {@link readEventBatch} runs, unexecuted. */
export function readEventBatchQuery(_tx: TenantTransaction, after: string, limit: number, userIds: readonly string[]) {
  return sql<{
    members: string[];
    suspended: boolean;
    events: RealtimeEventRow[] | null;
    messages: MessageRow[] | null;
    conversations: ConversationRow[] | null;
    users: UserRow[] | null;
  }>`with ev as (
      select e.tenant_id, e.position, e.kind, e.conversation_id, e.message_id, e.occurred_at
        from realtime_events e where e.position > ${after}::bigint order by e.position limit ${limit}
    ), msg as (
      select m.* from messages m where m.id in (select ev.message_id from ev where ev.message_id is not null)
    ), conv as (
      select c.* from conversations c where c.id in (select ev.conversation_id from ev)
    )
    select
      (select coalesce(array_agg(u.id::text), '{}') from users u where u.id = any(${userIds}::uuid[])) as members,
      coalesce((select t.suspended_at is not null from tenants t), false) as suspended,
      (select json_agg(json_build_object('tenant_id', ev.tenant_id::text, 'position', ev.position::text, 'kind', ev.kind,
              'conversation_id', ev.conversation_id, 'message_id', ev.message_id, 'occurred_at', ev.occurred_at::text)
              order by ev.position) from ev) as events,
      (select json_agg(${messageJson}) from msg m) as messages,
      (select json_agg(${conversationJson}) from conv c) as conversations,
      (select json_agg(${userJson}) from users u
        where u.id in (select m.author_id from msg m union select c.created_by from conv c)) as users`;
}

/** Where a new subscription starts, read under the subscriber's own tenant transaction (membership checked). */
export interface SubscriptionStart {
  /** The tenant's newest event position ('0' before its first event). */
  readonly head: string;
  /** Whether the conversation asked for exists in the tenant (true when none was asked for). */
  readonly conversationFound: boolean;
  /** The oldest retained event after `after` (null: none), and when it was recorded. */
  readonly nextPosition: string | null;
  readonly nextOccurredAt: string | null;
}

/** One statement: the head, the conversation's existence and the first retained event after `after`. */
export async function findSubscriptionStart(tx: TenantTransaction, conversationId: string | null, after: string | null): Promise<SubscriptionStart> {
  const { rows } = await findSubscriptionStartQuery(conversationId, after).execute(tx);
  const row = rows[0]!;
  return { head: row.head ?? '0', conversationFound: row.conversation_found, nextPosition: row.next_position, nextOccurredAt: row.next_occurred_at };
}

/** The statement {@link findSubscriptionStart} runs, unexecuted. */
export function findSubscriptionStartQuery(conversationId: string | null, after: string | null) {
  return sql<{ head: string | null; conversation_found: boolean; next_position: string | null; next_occurred_at: string | null }>`
    select (select p.position::text from realtime_positions p) as head,
           ${conversationId === null ? sql`true` : sql`exists (select from conversations c where c.id = ${conversationId}::uuid)`} as conversation_found,
           n.position::text as next_position, n.occurred_at::text as next_occurred_at
      from (select 1) one
      left join lateral (select e.position, e.occurred_at from realtime_events e
                          where e.position > ${after ?? '0'}::bigint order by e.position limit 1) n on true`;
}

/**
 * Deletes the tenant's events past retention: more than `maxEvents` behind its newest, or older than `maxAgeMs`.
 * Returns how many were deleted.
 */
export async function pruneEvents(tx: TenantTransaction, maxEvents: number, maxAgeMs: number): Promise<number> {
  const result = await pruneEventsQuery(maxEvents, maxAgeMs).execute(tx);
  return Number(result.numAffectedRows ?? 0n);
}

/** The statement {@link pruneEvents} runs, unexecuted. */
export function pruneEventsQuery(maxEvents: number, maxAgeMs: number) {
  return sql`delete from realtime_events
     where position <= coalesce((select p.position from realtime_positions p), 0) - ${maxEvents}::bigint
        or occurred_at < clock_timestamp() - ${maxAgeMs}::bigint * interval '1 millisecond'`;
}
