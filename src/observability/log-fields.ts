/**
 * Caps for client-controlled strings in log lines. A client chooses its operation name, aliases (error paths),
 * user agent and the text that ends up in error messages; written whole, a 300,000-character operation name
 * made a 300 KB log line. Every such field goes through `capLogField` (or `errorForLog`) on its way to the log.
 */

/** Operation names, aliases and ids: GraphQL names of 128 characters are already unusual. */
export const MAX_LOGGED_NAME = 128;
/** User agents: real ones stay under 256 characters. */
export const MAX_LOGGED_USER_AGENT = 256;
/** Error messages may quote a client's value (PostgreSQL does: `invalid input syntax … "<value>"`). */
export const MAX_LOGGED_MESSAGE = 1000;
/** Stack traces: the frames that matter come first. */
export const MAX_LOGGED_STACK = 4000;

/** `value` cut to `max` characters, marked with how long it was; undefined stays undefined. */
export function capLogField(value: string | undefined | null, max: number = MAX_LOGGED_NAME): string | undefined {
  if (value === undefined || value === null) return undefined;
  return value.length > max ? `${value.slice(0, max)}…(${value.length} characters)` : value;
}

/** An error path (field names and aliases, list indexes) with every segment capped, and at most 32 segments. */
export function capLogPath(path: readonly (string | number)[] | undefined): (string | number)[] | undefined {
  if (!path) return undefined;
  const capped = path.slice(0, 32).map((segment) => (typeof segment === 'string' ? capLogField(segment)! : segment));
  if (path.length > 32) capped.push(`…(${path.length} segments)`);
  return capped;
}

/** PostgreSQL's error fields worth a log line (pg's DatabaseError); `detail` and `where` may quote values. */
const DATABASE_ERROR_FIELDS = ['detail', 'hint', 'where', 'schema', 'table', 'column', 'constraint', 'routine'] as const;

/**
 * An error for pino's `err` field with message, stack and PostgreSQL's fields capped, and no other property
 * (whatever else an error carries is unbounded). The object has no prototype, so pino's serializer names it by
 * `name` (the original's class name) instead of "Object".
 */
export function errorForLog(error: unknown): Record<string, unknown> {
  const logged: Record<string, unknown> = Object.create(null);
  if (!(error instanceof Error)) return Object.assign(logged, { name: typeof error, message: capLogField(String(error), MAX_LOGGED_MESSAGE) });
  const fields = error as unknown as Record<string, unknown>;
  Object.assign(logged, {
    name: error.constructor?.name ?? error.name,
    message: capLogField(error.message, MAX_LOGGED_MESSAGE),
    stack: capLogField(error.stack, MAX_LOGGED_STACK),
  });
  if (typeof fields.code === 'string' || typeof fields.code === 'number') logged.code = fields.code;
  for (const field of DATABASE_ERROR_FIELDS) {
    if (typeof fields[field] === 'string') logged[field] = capLogField(fields[field], MAX_LOGGED_MESSAGE);
  }
  return logged;
}
