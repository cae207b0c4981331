import pino from 'pino';
import { inject } from 'vitest';
import { startServer, type RunningServer, type ServerOptions } from '../../src/server/create-server.js';
import { createClient } from '../../src/sdk/client.js';

/** DATABASE_PREPARED_STATEMENTS for the test servers, when the run sets it (the servers' default is `auto`). */
function preparedStatementsFromEnv(): { preparedStatements?: 'on' | 'off' | 'auto' } {
  const setting = process.env.DATABASE_PREPARED_STATEMENTS;
  return setting === 'on' || setting === 'off' || setting === 'auto' ? { preparedStatements: setting } : {};
}

export const TEST_JWT_SECRET = 'test-secret-test-secret-test-secret-0123456789';

export interface TestServer extends RunningServer {
  /** Every SQL statement the server ran, in order (the transaction prologue, commit and rollback included). */
  statements: string[];
  /**
   * Every round trip the app pool's connections made, in order, as the SQL texts each carried: one text for an
   * ordinary query (a simple-protocol string may hold several statements), two for a tenant prologue sent with
   * the statement after it (src/db/pipelined-prologue.ts). Counted at pg's `Client#query`, one call per round trip.
   */
  roundTrips: string[][];
  client(token?: string): ReturnType<typeof createClient>;
  /** POSTs a raw body, for requests the typed SDK cannot express. */
  post(body: unknown, headers?: Record<string, string>): Promise<{ status: number; json: any }>;
}

/**
 * Starts the real API in-process on a free port, as the app role, against the test database. `start` is the
 * product's startServer; the bench's own tests pass the bench's composition instead (bench/test/).
 */
export async function startTestServer(
  overrides: Partial<ServerOptions> = {},
  start: (options: ServerOptions) => Promise<RunningServer> = startServer,
): Promise<TestServer> {
  const statements: string[] = [];
  const server = await start({
    appUrl: inject('appUrl'),
    port: 0,
    host: '127.0.0.1',
    production: false,
    introspection: true,
    jwt: { secret: TEST_JWT_SECRET, tenantClaim: 'tenant_id' },
    // DATABASE_PREPARED_STATEMENTS=off npm test: the suite with unnamed statements, as behind PgBouncer 1.18.
    pool: { max: 4, acquireTimeoutMs: 3000, ...preparedStatementsFromEnv() },
    transaction: { statementTimeoutMs: 5000, idleInTransactionTimeoutMs: 10000 },
    bodyLimitBytes: 1_000_000,
    corsOrigins: [],
    logger: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
    observeStatement: (event) => statements.push(event.sql),
    // Buffered audit events are written when a test calls `server.audit.flush()` (or at close), never by a
    // timer in the middle of a test that counts the statements of its own requests.
    audit: { flushIntervalMs: 3_600_000, maxPending: 10_000 },
    ...overrides,
    // Suites fire requests of one tenant as fast as they can; the per-tenant rate limit is tested on its own
    // (fair-share.test.ts, tenant-rate-limiter.test.ts), which pass fairShare.rateLimit themselves.
    fairShare: { rateLimit: false, ...overrides.fairShare },
  });
  const roundTrips: string[][] = [];
  const counted = new WeakSet<object>();
  server.database.pool.on('acquire', (client) => {
    if (counted.has(client)) return;
    counted.add(client);
    const query = client.query.bind(client) as (...args: unknown[]) => unknown;
    client.query = ((...args: unknown[]) => {
      const [config] = args;
      const carried = (config as { texts?: unknown } | null)?.texts;
      const text = typeof config === 'string' ? config : (config as { text?: unknown } | null)?.text;
      roundTrips.push(Array.isArray(carried) ? [...(carried as string[])] : typeof text === 'string' ? [text] : ['(a query without text)']);
      return query(...args);
    }) as typeof client.query;
  });
  return {
    ...server,
    statements,
    roundTrips,
    client: (token) => createClient({ url: server.url, ...(token ? { token } : {}) }),
    async post(body, headers = {}) {
      const response = await fetch(server.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      });
      const text = await response.text();
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        json = text;
      }
      return { status: response.status, json };
    },
  };
}

/**
 * Options of a production-configured server on `appUrl` with the smallest pool, for tests that only check
 * whether `startServer` starts or refuses (start-up refusal, migration checksums).
 */
export function productionServerOptions(appUrl: string): ServerOptions {
  return {
    appUrl,
    port: 0,
    host: '127.0.0.1',
    production: true,
    introspection: false,
    jwt: { secret: TEST_JWT_SECRET, tenantClaim: 'tenant_id' },
    pool: { max: 1, acquireTimeoutMs: 3000 },
    transaction: { statementTimeoutMs: 5000, idleInTransactionTimeoutMs: 10000 },
    bodyLimitBytes: 1_000_000,
    corsOrigins: [],
    logger: pino({ level: 'silent' }),
  };
}
