import type { Compilable, RawBuilder } from 'kysely';
import { DEFAULT_PAGE_SIZE } from '../graphql/connection.js';
import type { Cursor } from '../graphql/cursor.js';
import type { KeysetWindow } from '../graphql/keyset.js';
import type { TenantTransaction } from '../tenancy/tenant-transaction.js';

/**
 * Real values from one tenant's own rows (sampled by `cli explain`), so each statement's plan is the one that
 * tenant's requests get.
 */
export interface AccessPathSample {
  conversationIds: string[];
  /** The endCursor of the first page of conversations, as a client pages on. */
  conversationCursor: Cursor;
  titleWord: string;
  conversation: { id: string; archived: boolean };
  userIds: string[];
  authorId: string;
  messageIds: string[];
  messageCursor: Cursor;
  /**
   * Ids of the tenant's own rows of any tenant table with an `id` column (up to a page), read from the catalog's
   * list of tenant tables: what a new module's paths use (`s.idsOf('labels')`), with no field to add here.
   */
  idsOf(table: string): string[];
}

// Stand-ins for a tenant with no rows: the statements keep their shape, and the writes then match nothing.
export const NO_ID = '00000000-0000-0000-0000-000000000000';
export const NO_CURSOR: Cursor = { createdAt: '2000-01-01T00:00:00Z', id: NO_ID };

/** A sample of stand-ins only: enough to compile every path (the start-up check plans them all without running them). */
export function standInSample(): AccessPathSample {
  return {
    conversationIds: [NO_ID],
    conversationCursor: NO_CURSOR,
    titleWord: 'a',
    conversation: { id: NO_ID, archived: false },
    userIds: [NO_ID],
    authorId: NO_ID,
    messageIds: [NO_ID],
    messageCursor: NO_CURSOR,
    idsOf: () => [NO_ID],
  };
}

/**
 * One statement a module issues, compiled but not executed: every read and every write (list each insert, update
 * and delete too). `cli explain` runs them under EXPLAIN ANALYZE; start-up plans each one as the app role, so a
 * missing GRANT or a column that does not exist stops `npm start` naming the path (src/server/access-path-check.ts).
 */
export interface AccessPath {
  /** The query function in src/modules/<domain>/queries.ts, and the arguments that vary. */
  name: string;
  /** Writes run with ANALYZE in a read-write transaction that is always rolled back. */
  write?: boolean;
  query(tx: TenantTransaction, sample: AccessPathSample): Compilable;
}

/** What a request fetches: a page of DEFAULT_PAGE_SIZE plus one row that tells whether there is a next page. */
export const PAGE = DEFAULT_PAGE_SIZE + 1;

/** A first page (no cursor) or the page after / before a cursor, as requests ask for them. */
export const forward = (cursor: Cursor | null): KeysetWindow => ({ limit: PAGE, cursor, direction: 'forward' });
export const backward = (cursor: Cursor | null): KeysetWindow => ({ limit: PAGE, cursor, direction: 'backward' });

/** A statement written as a `sql` template, as an access path: raw builders compile against the transaction. */
export const rawStatement = (tx: TenantTransaction, statement: RawBuilder<unknown>): Compilable => ({ compile: () => statement.compile(tx) });
