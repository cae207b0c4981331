/**
 * Server overrides for tests that count statements. Audit events of reads are written by a timer, off the request
 * path (src/audit/audit-log.ts), and those statements would land in `server.statements` in the middle of whatever
 * a test is counting. The timer is pushed past the end of any run; `close()` still flushes what is buffered.
 */
export const QUIET_AUDIT = { audit: { flushIntervalMs: 2 ** 31 - 1, maxBuffered: 1_000_000 } } as const;
