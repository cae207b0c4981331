/** Database row values as resolvers hand them to GraphQL. */

/** timestamptz text in UTC, as the pool's sessions print it: date, time, up to six digits of fraction, `+00`. */
const UTC_TIMESTAMP = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})(?:\.(\d{1,6}))?\+00$/;

/**
 * PostgreSQL's timestamptz text ("2026-01-02 03:04:05.123456+00") as ISO 8601 in UTC, with milliseconds (the
 * microseconds cut off, as `Date` does). The common UTC form is rewritten as text: a dashboard converts ~100 of
 * them per request, and parsing each into a Date cost more than 1 % of the API's CPU. Anything else (another
 * offset, a year past 9999) goes through `Date`.
 */
export function toIsoTimestamp(value: string): string {
  const utc = UTC_TIMESTAMP.exec(value);
  if (!utc) return new Date(value).toISOString();
  return `${utc[1]}T${utc[2]}.${((utc[3] ?? '') + '000').slice(0, 3)}Z`;
}

/** A row that a composite foreign key guarantees; its absence is a server bug, not a client error. */
export function required<T>(row: T | null, what: string): T {
  if (row === null) throw new Error(`Missing ${what} row despite a foreign key`);
  return row;
}
