import type { CursorKind } from './operation-specs.js';
import type { ResolvedCursor } from './resolve-references.js';

/** Every check failure: names the broken expectation and shows what was received. */
export class FuzzFailure extends Error {
  override name = 'FuzzFailure';
}

export function fail(message: string, details?: unknown): never {
  const shown = details === undefined ? '' : `\n  details: ${truncate(JSON.stringify(details, null, 1))}`;
  throw new FuzzFailure(`${message}${shown}`);
}

export function expectEqual(label: string, received: unknown, expected: unknown): void {
  if (JSON.stringify(received) !== JSON.stringify(expected)) fail(`${label}: expected ${show(expected)}, received ${show(received)}`);
}

export function expectOneOf(label: string, received: unknown, allowed: readonly unknown[]): void {
  if (!allowed.some((value) => JSON.stringify(value) === JSON.stringify(received))) {
    fail(`${label}: expected one of ${show(allowed)}, received ${show(received)}`);
  }
}

export function expectBetween(label: string, received: number, min: number, max: number): void {
  if (!(Number.isInteger(received) && received >= min && received <= max)) fail(`${label}: expected ${min}..${max}, received ${received}`);
}

function show(value: unknown): string {
  return truncate(JSON.stringify(value));
}

function truncate(text: string | undefined): string {
  const value = text ?? 'undefined';
  return value.length > 2000 ? `${value.slice(0, 2000)}… (${value.length} characters)` : value;
}

export interface Offsets {
  min: number;
  max: number;
}

export interface Positioned {
  id: string;
  /** ISO timestamp when the list exposes one; users do not. */
  createdAt: string | null;
}

/**
 * Where a page that starts `after` a cursor may start in `list` (the full expected list, in its order).
 * `canonical` is the unfiltered list the cursor's own object lives in (for a filtered list the object may be
 * filtered out, but it still has a place). Exact for the list's own cursors; a range of offsets for cursors of
 * other lists or tenants, whose keyset position is known only to the millisecond (or not at all, for users).
 */
export function cursorOffsets(
  cursor: ResolvedCursor,
  list: readonly Positioned[],
  canonical: readonly Positioned[],
  listKind: CursorKind,
  order: 'newest first' | 'oldest first',
): Offsets {
  const all = { min: 0, max: list.length };
  if (cursor.value === null) return { min: 0, max: 0 };
  if (cursor.crafted) {
    const atStart = (cursor.crafted === 'future') === (order === 'newest first');
    return atStart ? { min: 0, max: 0 } : { min: list.length, max: list.length };
  }
  const origin = cursor.origin;
  if (!origin) return all;
  const ownIndex = origin.kind === listKind ? canonical.findIndex((item) => item.id === origin.entityId) : -1;
  if (ownIndex >= 0) {
    const rank = new Map(canonical.map((item, index) => [item.id, index]));
    const k = list.filter((item) => (rank.get(item.id) ?? Infinity) <= ownIndex).length;
    return { min: k, max: k };
  }
  if (origin.createdAt === null || order !== 'newest first' || list.some((item) => item.createdAt === null)) return all;
  const at = Date.parse(origin.createdAt);
  return {
    min: list.filter((item) => Date.parse(item.createdAt!) > at).length,
    max: list.filter((item) => Date.parse(item.createdAt!) >= at).length,
  };
}

export interface ReceivedPage {
  ids: string[];
  hasNextPage: boolean;
  endCursor: string | null;
  /** Cursor of the last edge, when the selection has edges. */
  lastEdgeCursor?: string | null;
  /** Selected by the documents that page both ways. */
  hasPreviousPage?: boolean;
  startCursor?: string | null;
  firstEdgeCursor?: string | null;
}

/**
 * Where a backward page (`last`/`before`) may end in `list`: the number of items strictly before the cursor.
 * Derived from {@link cursorOffsets} (where a forward page after the same cursor would start): the same, less
 * the cursor's own item when it is in the list. Without a cursor a backward page ends at the end of the list.
 */
export function backwardEnds(
  cursor: ResolvedCursor,
  list: readonly Positioned[],
  canonical: readonly Positioned[],
  listKind: CursorKind,
  order: 'newest first' | 'oldest first',
): Offsets {
  if (cursor.value === null) return { min: list.length, max: list.length };
  const start = cursorOffsets(cursor, list, canonical, listKind, order);
  const origin = cursor.origin;
  const ownInList = !cursor.crafted && origin?.kind === listKind && list.some((item) => item.id === origin.entityId);
  return ownInList ? { min: start.min - 1, max: start.max - 1 } : start;
}

/**
 * A backward page must be `expected.slice(e - last, e)` for an allowed end e, in the list's order, with an
 * exact hasPreviousPage and hasNextPage saying whether a cursor was given; returns that e.
 */
export function checkExactBackwardPage(
  label: string,
  page: ReceivedPage,
  expected: readonly string[],
  ends: Offsets,
  last: number,
  cursorGiven: boolean,
): number {
  if (page.hasNextPage !== cursorGiven)
    fail(`${label}: backward page with${cursorGiven ? '' : 'out'} \`before\` has hasNextPage ${page.hasNextPage}`);
  for (let e = ends.min; e <= ends.max; e += 1) {
    const slice = expected.slice(Math.max(0, e - last), e);
    if (JSON.stringify(slice) === JSON.stringify(page.ids) && page.hasPreviousPage === e > last) {
      checkEndCursor(label, page);
      return e;
    }
  }
  return fail(`${label}: backward page does not match the model`, {
    received: page.ids,
    hasPreviousPage: page.hasPreviousPage,
    expected,
    ends,
    last,
  });
}

/** The page must be `expected.slice(k, k + first)` for an allowed k; returns that k. */
export function checkExactPage(label: string, page: ReceivedPage, expected: readonly string[], offsets: Offsets, first: number): number {
  for (let k = offsets.min; k <= offsets.max; k += 1) {
    const slice = expected.slice(k, k + first);
    if (JSON.stringify(slice) === JSON.stringify(page.ids) && page.hasNextPage === k + first < expected.length) {
      checkEndCursor(label, page);
      return k;
    }
  }
  return fail(`${label}: page does not match the model`, {
    received: page.ids,
    hasNextPage: page.hasNextPage,
    expected,
    offsets,
    first,
  });
}

/** While the tenant itself is changing: only items that may exist, at most `first`, no duplicates. */
export function checkPossiblePage(label: string, page: ReceivedPage, possible: ReadonlySet<string>, first: number): void {
  checkPossibleItems(label, page.ids, possible, first);
  checkEndCursor(label, page);
}

/** The same for a list without page info (`nodes` only). */
export function checkPossibleItems(label: string, ids: readonly string[], possible: ReadonlySet<string>, first: number): void {
  if (ids.length > first) fail(`${label}: ${ids.length} items for first: ${first}`);
  if (new Set(ids).size !== ids.length) fail(`${label}: duplicate items`, ids);
  const unknown = ids.filter((id) => !possible.has(id));
  if (unknown.length > 0) fail(`${label}: items the tenant does not have`, { unknown, possible: [...possible] });
}

function checkEndCursor(label: string, page: ReceivedPage): void {
  if (page.startCursor !== undefined) {
    if ((page.ids.length === 0) !== (page.startCursor === null)) fail(`${label}: startCursor does not match the page's emptiness`, page);
    if (page.firstEdgeCursor !== undefined && page.ids.length > 0 && page.startCursor !== page.firstEdgeCursor) {
      fail(`${label}: startCursor is not the first edge's cursor`, page);
    }
  }
  if (page.ids.length === 0 && page.endCursor !== null) fail(`${label}: endCursor on an empty page`, page);
  if (page.ids.length > 0 && page.endCursor === null) fail(`${label}: no endCursor on a non-empty page`, page);
  if (page.lastEdgeCursor !== undefined && page.ids.length > 0 && page.endCursor !== page.lastEdgeCursor) {
    fail(`${label}: endCursor is not the last edge's cursor`, page);
  }
}

/** Items of a newest-first list must never go forward in time. */
export function checkNewestFirst(label: string, createdAts: readonly string[]): void {
  for (let i = 1; i < createdAts.length; i += 1) {
    if (Date.parse(createdAts[i]!) > Date.parse(createdAts[i - 1]!)) fail(`${label}: not newest first`, createdAts);
  }
}
