import { sql, type RawBuilder } from 'kysely';
import type { Cursor } from './cursor.js';

/**
 * Which way a page walks from its cursor: `forward` (`first`/`after`) continues in the connection's normal
 * order, `backward` (`last`/`before`) walks against it, towards the start.
 */
export type PageDirection = 'forward' | 'backward';

/**
 * What a keyset query needs to fetch one page: at most `limit` rows past `cursor` (exclusive) in `direction`.
 * No offsets: each page is an index range scan starting at the cursor, whatever its depth.
 */
export interface KeysetWindow {
  limit: number;
  cursor: Cursor | null;
  direction: PageDirection;
}

/**
 * What of a window a statement's SQL depends on besides null-ness (db/statement-cache.ts): the scan order. Its
 * limit and cursor values are parameters.
 */
export const WINDOW_SHAPE = ['direction'] as const satisfies readonly (keyof KeysetWindow)[];

/** The order a connection lists its rows in, on `(created_at, id)`. */
export type KeysetOrder = 'asc' | 'desc';

export interface KeysetScan {
  /** The scan order, `(created_at, id)` both ways: the normal order forward, its reverse backward. */
  order: KeysetOrder;
  /** The row-value predicate past the cursor, or null without one. */
  predicate: RawBuilder<boolean> | null;
}

/**
 * The scan for a window over a connection listed in `normalOrder`. A backward scan returns the rows nearest the
 * cursor first, that is against the normal order: {@link toConnection} reverses them, so a page is always in the
 * connection's normal order whichever way it was fetched.
 *
 * `table` qualifies the columns when the query joins (the messages LATERAL); it is a fixed identifier, never input.
 */
export function keysetScan(normalOrder: KeysetOrder, window: KeysetWindow, table?: string): KeysetScan {
  const forward = window.direction === 'forward';
  const order: KeysetOrder = forward === (normalOrder === 'asc') ? 'asc' : 'desc';
  if (!window.cursor) return { order, predicate: null };
  const columns = table ? sql`(${sql.ref(`${table}.created_at`)}, ${sql.ref(`${table}.id`)})` : sql`(created_at, id)`;
  const comparison = sql.raw(order === 'asc' ? '>' : '<');
  return {
    order,
    predicate: sql<boolean>`${columns} ${comparison} (${window.cursor.createdAt}::timestamptz, ${window.cursor.id}::uuid)`,
  };
}
