import type { Compilable } from 'kysely';
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
}

/** One statement a module issues that reads a table, compiled but not executed. */
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
