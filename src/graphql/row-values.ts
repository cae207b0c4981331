/** Database row values as resolvers hand them to GraphQL. */

/** PostgreSQL's timestamptz text ("2026-01-02 03:04:05.123456+00") as ISO 8601 in UTC. */
export function toIsoTimestamp(value: string): string {
  return new Date(value).toISOString();
}

/** A row that a composite foreign key guarantees; its absence is a server bug, not a client error. */
export function required<T>(row: T | null, what: string): T {
  if (row === null) throw new Error(`Missing ${what} row despite a foreign key`);
  return row;
}
