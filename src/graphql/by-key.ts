/**
 * DataLoader's contract: the batch function returns one value per key, in key order. Rows the database did
 * not return (absent, or another tenant's and hidden by RLS) become null.
 */
export function inKeyOrder<Row>(keys: readonly string[], rows: readonly Row[], keyOf: (row: Row) => string): (Row | null)[] {
  const byKey = new Map<string, Row>();
  for (const row of rows) byKey.set(keyOf(row), row);
  return keys.map((key) => byKey.get(key) ?? null);
}
