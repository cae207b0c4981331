import { BadUserInputError } from '../errors/app-error.js';

/**
 * A keyset position: the sort key of the last row of a page, `(created_at, id)`. Encoded as opaque base64url
 * JSON. created_at is kept as PostgreSQL's own text (microseconds), never as a rounded JavaScript Date.
 */
export interface Cursor {
  createdAt: string;
  id: string;
}

const TIMESTAMP = /^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d{1,6})?([+-]\d{2}(:?\d{2})?|Z)$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function encodeCursor(row: { created_at: string; id: string }): string {
  return Buffer.from(JSON.stringify([row.created_at, row.id]), 'utf8').toString('base64url');
}

/** Throws BAD_USER_INPUT when `after` is not a cursor this API returned. */
export function decodeCursor(after: string): Cursor {
  let parsed: unknown;
  try {
    parsed = after.length <= 200 ? JSON.parse(Buffer.from(after, 'base64url').toString('utf8')) : undefined;
  } catch {
    parsed = undefined;
  }
  if (
    Array.isArray(parsed) &&
    parsed.length === 2 &&
    typeof parsed[0] === 'string' &&
    typeof parsed[1] === 'string' &&
    TIMESTAMP.test(parsed[0]) &&
    UUID.test(parsed[1])
  ) {
    return { createdAt: parsed[0], id: parsed[1] };
  }
  throw new BadUserInputError('Invalid cursor: pass the endCursor of a previous page as `after`.', 'after');
}
