import { BadUserInputError } from '../errors/app-error.js';

/**
 * A keyset position: the sort key of the first or last row of a page, `(created_at, id)`. Encoded as opaque base64url
 * JSON. created_at is kept as PostgreSQL's own text (microseconds), never as a rounded JavaScript Date.
 */
export interface Cursor {
  createdAt: string;
  id: string;
}

const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(\.\d{1,6})?(?:[+-](\d{2})(?::?(\d{2}))?|Z)$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function encodeCursor(row: { created_at: string; id: string }): string {
  return Buffer.from(JSON.stringify([row.created_at, row.id]), 'utf8').toString('base64url');
}

/** Throws BAD_USER_INPUT naming `field` (`after` or `before`) when `value` is not a cursor this API returned. */
export function decodeCursor(value: string, field: 'after' | 'before' = 'after'): Cursor {
  let parsed: unknown;
  try {
    parsed = value.length <= 200 ? JSON.parse(Buffer.from(value, 'base64url').toString('utf8')) : undefined;
  } catch {
    parsed = undefined;
  }
  if (
    Array.isArray(parsed) &&
    parsed.length === 2 &&
    typeof parsed[0] === 'string' &&
    typeof parsed[1] === 'string' &&
    isRealTimestamp(parsed[0]) &&
    UUID.test(parsed[1])
  ) {
    return { createdAt: parsed[0], id: parsed[1] };
  }
  const source = field === 'after' ? 'endCursor' : 'startCursor';
  throw new BadUserInputError(`Invalid cursor: pass the ${source} (or an edge's cursor) of a previous page as \`${field}\`.`, field);
}

/**
 * The pattern alone admits "2023-02-30", hour 25, year 0 or an offset of +99, which PostgreSQL rejects with a
 * data exception (22008, 22009) that would reach the client as INTERNAL_SERVER_ERROR instead of "Invalid cursor".
 * Ranges as PostgreSQL accepts them: years from 1, offsets up to ±15:59.
 */
function isRealTimestamp(value: string): boolean {
  const match = TIMESTAMP.exec(value);
  if (!match) return false;
  const [year, month, day, hour, minute, second, offsetHours, offsetMinutes] = [1, 2, 3, 4, 5, 6, 8, 9].map((i) => Number(match[i] ?? 0)) as [
    number,
    number,
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day); // Date.UTC would map years below 100 to 19xx
  return (
    year >= 1 &&
    date.getUTCMonth() === month - 1 &&
    date.getUTCDate() === day &&
    hour <= 23 &&
    minute <= 59 &&
    second <= 59 &&
    offsetHours <= 15 &&
    offsetMinutes <= 59
  );
}
