import { BadUserInputError } from '../errors/app-error.js';
import { decodeCursor, encodeCursor, type Cursor } from './cursor.js';

export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 100;

export interface PageRequest {
  /** Rows the client asked for. Queries fetch one more to learn whether a next page exists. */
  first: number;
  after: Cursor | null;
}

/** Validates `first`/`after`; throws BAD_USER_INPUT naming the limit. */
export function parsePageRequest(args: { first?: number | null; after?: string | null }): PageRequest {
  const first = args.first ?? DEFAULT_PAGE_SIZE;
  if (first < 0 || first > MAX_PAGE_SIZE) {
    throw new BadUserInputError(`\`first\` must be between 0 and ${MAX_PAGE_SIZE}, received ${first}.`, 'first');
  }
  return { first, after: args.after == null ? null : decodeCursor(args.after) };
}

interface KeysetRow {
  created_at: string;
  id: string;
}

/** A page of rows, as the Connection resolvers receive it. */
export interface Connection<Row extends KeysetRow> {
  rows: Row[];
  hasNextPage: boolean;
  totalCount: () => Promise<number> | number;
}

export interface Edge<Row extends KeysetRow> {
  cursor: string;
  node: Row;
}

/** Turns `first + 1` fetched rows into a page. */
export function toConnection<Row extends KeysetRow>(
  fetched: Row[],
  first: number,
  totalCount: () => Promise<number> | number,
): Connection<Row> {
  return { rows: fetched.slice(0, first), hasNextPage: fetched.length > first, totalCount };
}

/** Resolvers shared by every XConnection / XEdge type. */
export const connectionResolvers = {
  edges: <Row extends KeysetRow>(c: Connection<Row>): Edge<Row>[] =>
    c.rows.map((node) => ({ cursor: encodeCursor(node), node })),
  nodes: <Row extends KeysetRow>(c: Connection<Row>): Row[] => c.rows,
  pageInfo: <Row extends KeysetRow>(c: Connection<Row>) => {
    const last = c.rows.at(-1);
    return { hasNextPage: c.hasNextPage, endCursor: last ? encodeCursor(last) : null };
  },
  totalCount: <Row extends KeysetRow>(c: Connection<Row>) => c.totalCount(),
};
