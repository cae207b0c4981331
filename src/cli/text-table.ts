/**
 * A table as psql prints one (`aligned` format): a header, a rule, one line per row, padded columns separated by
 * ` | `. Numbers are right-aligned when `rightAligned` says so; line breaks inside a cell become `\n` so every
 * row stays one line. Returns the lines, without the `(N rows)` footer, which the caller words.
 */
export function formatTable(headers: readonly string[], rows: readonly (readonly string[])[], rightAligned: readonly boolean[] = []): string[] {
  const cells = rows.map((row) => row.map((cell) => cell.replaceAll('\r', '\\r').replaceAll('\n', '\\n')));
  const widths = headers.map((header, column) => Math.max(header.length, ...cells.map((row) => (row[column] ?? '').length)));
  const line = (row: readonly string[], align: (column: number) => boolean) =>
    ` ${widths.map((width, column) => (align(column) ? (row[column] ?? '').padStart(width) : (row[column] ?? '').padEnd(width))).join(' | ')}`.trimEnd();
  const centred = headers.map((header, column) => header.padStart(Math.floor((widths[column]! + header.length) / 2)));
  return [
    line(centred, () => false),
    widths.map((width) => '-'.repeat(width + 2)).join('+'),
    ...cells.map((row) => line(row, (column) => rightAligned[column] ?? false)),
  ];
}
