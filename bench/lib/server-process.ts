import { ServerResponse } from 'node:http';
import pg from 'pg';
import type { ServerConfig } from './servers.js';

/**
 * What every benchmarked server process (floor, API, API without RLS) runs besides its server: hooks that count
 * the SQL it sends (pg.Client#query) and the responses it finishes (ServerResponse#end), and an IPC channel on
 * which the parent asks for counters. The hooks are the same for all three servers and cost an increment each.
 */
export interface ServerStats {
  /** process.cpuUsage() in microseconds since the process started. */
  cpuUserUs: number;
  cpuSystemUs: number;
  /** Calls of pg.Client#query: one network round trip each. */
  roundTrips: number;
  /** SQL statements in them: a simple-protocol string such as the transaction prologue may hold several. */
  statements: number;
  /** HTTP responses the server finished (also those the load generator no longer waited for). */
  requests: number;
  /** Distinct SQL texts sent so far (the first 200 of at most MAX_TEXT_LENGTH characters), for comparing what the servers issue. */
  texts: string[];
}

/** `flush`: write the server's buffered audit events first, so that their cost falls into the run that caused them. */
export type ParentMessage = { type: 'stats'; flush?: boolean } | { type: 'stop' };
export type ChildMessage = { type: 'ready'; port: number } | ({ type: 'stats' } & ServerStats) | { type: 'error'; message: string };

const counters = { roundTrips: 0, statements: 0, requests: 0 };
const texts = new Set<string>();
/**
 * Longer texts are not kept: each audit batch is a distinct text of ~170 characters per event (its values are
 * literals), so the set filled with 200 of them, 10-30 MB that every `stats` reply serialised over IPC. That
 * cost up to ~0.1 ms of server CPU per request of a 3 s run, charged to the servers that keep an audit trail.
 */
const MAX_TEXT_LENGTH = 10_000;

export function installStatementCounter(): void {
  const original = pg.Client.prototype.query as (...args: unknown[]) => unknown;
  pg.Client.prototype.query = function countedQuery(this: pg.Client, ...args: unknown[]) {
    const [config, values] = args;
    const text = typeof config === 'string' ? config : (config as { text?: string } | null)?.text;
    // A tenant prologue sent with the statement after it (src/db/pipelined-prologue.ts): one round trip, its
    // statements counted one by one, its texts kept as the prologue string and the statement.
    const carried = (config as { texts?: unknown; statementCount?: unknown } | null)?.texts;
    counters.roundTrips++;
    if (Array.isArray(carried)) {
      counters.statements += Number((config as { statementCount?: unknown }).statementCount);
      for (const carriedText of carried as string[]) if (texts.size < 200 && carriedText.length <= MAX_TEXT_LENGTH) texts.add(carriedText);
    } else if (typeof text === 'string') {
      const hasValues = Array.isArray(values) ? values.length > 0 : Array.isArray((config as { values?: unknown[] })?.values);
      counters.statements += hasValues ? 1 : text.split(';').filter((part) => part.trim()).length;
      if (texts.size < 200 && text.length <= MAX_TEXT_LENGTH) texts.add(text);
    } else {
      counters.statements++;
    }
    return original.apply(this, args);
  } as typeof pg.Client.prototype.query;

  const end = ServerResponse.prototype.end as (...args: unknown[]) => ServerResponse;
  ServerResponse.prototype.end = function countedEnd(this: ServerResponse, ...args: unknown[]) {
    if (!this.writableEnded) counters.requests++;
    return end.apply(this, args);
  } as typeof ServerResponse.prototype.end;
}

/**
 * Answers the parent's requests; `stop` runs `close` and exits. `flushAudit` writes the server's buffered audit
 * events (the API's AuditLog.flush, the floor's own batch); a `stats` request with `flush` runs it before counting.
 */
export function serveParent(port: number, close: () => Promise<void>, flushAudit?: () => Promise<void>): void {
  const send = (message: ChildMessage) => process.send?.(message);
  process.on('message', (message: ParentMessage) => {
    if (message.type === 'stats') {
      void (message.flush && flushAudit ? flushAudit() : Promise.resolve()).finally(() => {
        const cpu = process.cpuUsage();
        send({ type: 'stats', cpuUserUs: cpu.user, cpuSystemUs: cpu.system, ...counters, texts: [...texts] });
      });
    } else if (message.type === 'stop') {
      void close().finally(() => process.exit(0));
    }
  });
  // The parent died: do not linger as an orphan holding connections.
  process.on('disconnect', () => void close().finally(() => process.exit(0)));
  send({ type: 'ready', port });
}

export function reportStartupFailure(error: unknown): never {
  const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
  process.send?.({ type: 'error', message } satisfies ChildMessage);
  console.error(message);
  process.exit(1);
}

/** The configuration the parent passed in BENCH_SERVER_CONFIG; reports a startup failure (and exits) without one. */
export function serverConfigFromEnv(): ServerConfig {
  const config = JSON.parse(process.env.BENCH_SERVER_CONFIG ?? 'null') as ServerConfig | null;
  if (!config) reportStartupFailure(new Error('BENCH_SERVER_CONFIG is not set'));
  return config;
}
