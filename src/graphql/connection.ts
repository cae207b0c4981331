import { BadUserInputError } from '../errors/app-error.js';
import { decodeCursor, encodeCursor } from './cursor.js';
import type { KeysetWindow, PageDirection } from './keyset.js';
import type { Cursor } from './cursor.js';

export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 100;

export interface PageRequest {
  /** Rows the client asked for (`first` or `last`). Queries fetch one more to learn whether more exist that way. */
  size: number;
  /** `forward` for `first`/`after` (and no arguments), `backward` for `last`/`before`. */
  direction: PageDirection;
  /** `after` forward, `before` backward. */
  cursor: Cursor | null;
}

export interface PageArgs {
  first?: number | null;
  after?: string | null;
  last?: number | null;
  before?: string | null;
}

/**
 * Validates `first`/`after` or `last`/`before`; throws BAD_USER_INPUT naming the argument. Mixing the two
 * directions (`first` with `last`, `after` with `before`, `first` with `before`, `last` with `after`) is refused:
 * a page is one keyset range scan from one cursor, and a window cut from both ends has no single sensible answer
 * for nested connections batched per parent.
 */
export function parsePageRequest(args: PageArgs): PageRequest {
  const forward = args.first != null || args.after != null;
  const backward = args.last != null || args.before != null;
  if (forward && backward) {
    const given = (['first', 'after', 'last', 'before'] as const).filter((name) => args[name] != null);
    const field = args.last != null ? 'last' : 'before';
    throw new BadUserInputError(
      `Pass \`first\`/\`after\` to page forward or \`last\`/\`before\` to page backward, not both; received ${given
        .map((name) => `\`${name}\``)
        .join(', ')}.`,
      field,
    );
  }
  const name = backward ? 'last' : 'first';
  const size = (backward ? args.last : args.first) ?? DEFAULT_PAGE_SIZE;
  if (size < 0 || size > MAX_PAGE_SIZE) {
    throw new BadUserInputError(`\`${name}\` must be between 0 and ${MAX_PAGE_SIZE}, received ${size}.`, name);
  }
  if (backward) return { size, direction: 'backward', cursor: args.before == null ? null : decodeCursor(args.before, 'before') };
  return { size, direction: 'forward', cursor: args.after == null ? null : decodeCursor(args.after, 'after') };
}

/** The rows to fetch for a page: one more than asked, to learn whether more exist in its direction. */
export function pageWindow(page: PageRequest): KeysetWindow {
  return { limit: page.size + 1, cursor: page.cursor, direction: page.direction };
}

interface KeysetRow {
  created_at: string;
  id: string;
}

/** A page of rows in the connection's normal order, as the Connection resolvers receive it. */
export interface Connection<Row extends KeysetRow> {
  rows: Row[];
  hasNextPage: boolean;
  hasPreviousPage: boolean;
  totalCount: () => Promise<number> | number;
}

export interface Edge<Row extends KeysetRow> {
  cursor: string;
  node: Row;
}

/**
 * Turns the rows a {@link pageWindow} fetched (in scan order: nearest the cursor first) into a page in the
 * connection's normal order.
 *
 * The flag of the page's own direction is exact: one extra row was fetched. The flag of the other direction is
 * true exactly when a cursor was given: the row the cursor came from (or its keyset position, if that row has
 * gone) lies on that side. Knowing whether rows still exist there would cost a statement per page; the Relay
 * specification allows this ("may return true if edges prior to after exist, if it can do so efficiently").
 */
export function toConnection<Row extends KeysetRow>(fetched: Row[], page: PageRequest, totalCount: () => Promise<number> | number): Connection<Row> {
  const rows = fetched.slice(0, page.size);
  const more = fetched.length > page.size;
  const cursorGiven = page.cursor !== null;
  if (page.direction === 'backward') {
    return { rows: rows.reverse(), hasNextPage: cursorGiven, hasPreviousPage: more, totalCount };
  }
  return { rows, hasNextPage: more, hasPreviousPage: cursorGiven, totalCount };
}

/** Resolvers shared by every XConnection / XEdge type. */
export const connectionResolvers = {
  edges: <Row extends KeysetRow>(c: Connection<Row>): Edge<Row>[] => c.rows.map((node) => ({ cursor: encodeCursor(node), node })),
  nodes: <Row extends KeysetRow>(c: Connection<Row>): Row[] => c.rows,
  pageInfo: <Row extends KeysetRow>(c: Connection<Row>) => {
    const first = c.rows.at(0);
    const last = c.rows.at(-1);
    return {
      hasNextPage: c.hasNextPage,
      hasPreviousPage: c.hasPreviousPage,
      startCursor: first ? encodeCursor(first) : null,
      endCursor: last ? encodeCursor(last) : null,
    };
  },
  totalCount: <Row extends KeysetRow>(c: Connection<Row>) => c.totalCount(),
};
