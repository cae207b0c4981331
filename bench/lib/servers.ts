import { fork, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ChildMessage, ServerStats } from './server-process.js';
import type { Target } from './workloads.js';

export type ServerName = 'floor' | 'api' | 'noRls' | 'trusted' | 'postgraphile' | 'apiUnprepared' | 'apiNoReadAudit' | 'realtimeBaseline';

export const SERVER_LABELS: Record<ServerName, string> = {
  floor: 'floor (node:http + pg)',
  api: 'API (as shipped, RLS)',
  noRls: 'API without RLS',
  trusted: 'API with trusted documents',
  postgraphile: 'PostGraphile 5 (amber, pg adaptor, RLS)',
  apiUnprepared: 'API with unprepared statements',
  apiNoReadAudit: 'API without read audit events',
  realtimeBaseline: 'API with a per-subscriber realtime baseline',
};

/** How a server is asked: the floor's own routes, GraphQL text, (trusted documents) the operation's id, or PostGraphile's own documents. */
export function targetOf(name: ServerName): Target {
  return name === 'floor' ? 'floor' : name === 'trusted' ? 'documentId' : name === 'postgraphile' ? 'postgraphile' : 'graphql';
}

/** What the parent hands a server process (in BENCH_SERVER_CONFIG, not argv, so URLs stay out of `ps`). */
export interface ServerConfig {
  appUrl: string;
  jwtSecret: string;
  poolMax: number;
  statementTimeoutMs: number;
  idleInTransactionTimeoutMs: number;
  /** API only: start the "API without RLS" (no-rls-server.ts) instead of the product's startServer. */
  explicitTenantFilter?: boolean;
  /** API only: startServer's fair share options (the noisy-neighbour run turns fairness off with a share of the whole pool). */
  fairShare?: { connectionsPerTenant?: number; rateLimit?: boolean };
  /** API and floor: named statements per connection (DATABASE_PREPARED_STATEMENTS); default on, as `auto` decides for the bench's direct connection. */
  preparedStatements?: 'on' | 'off';
  /** API only: a trusted-documents manifest (GRAPHQL_TRUSTED_DOCUMENTS), for the "API with trusted documents". */
  trustedDocumentsFile?: string;
  /** API only: startServer's realtime settings besides the defaults (the realtime run raises the per-tenant socket bound). */
  realtime?: { maxSocketsPerTenant?: number; maxSubscriptionsPerTenant?: number; maxPendingSocketsPerAddress?: number; listenUrl?: string };
  /** API only: record no read audit events (lib/mutations-only-audit-sink.ts), for the "API without read audit events". */
  noReadAudit?: boolean;
  /** API only: serve subscriptions with the per-subscriber baseline (lib/per-subscriber-feed.ts) instead of the product's fan-out. */
  perSubscriberRealtime?: boolean;
}

const ENTRY_POINTS: Record<ServerName, string> = {
  floor: fileURLToPath(new URL('../floor-server.ts', import.meta.url)),
  api: fileURLToPath(new URL('../api-server.ts', import.meta.url)),
  noRls: fileURLToPath(new URL('../api-server.ts', import.meta.url)),
  trusted: fileURLToPath(new URL('../api-server.ts', import.meta.url)),
  postgraphile: fileURLToPath(new URL('../postgraphile-server.ts', import.meta.url)),
  apiUnprepared: fileURLToPath(new URL('../api-server.ts', import.meta.url)),
  apiNoReadAudit: fileURLToPath(new URL('../api-server.ts', import.meta.url)),
  realtimeBaseline: fileURLToPath(new URL('../api-server.ts', import.meta.url)),
};

/** A server in its own process, so its CPU time is its own. */
export class ServerProcess {
  #pendingStats: ((stats: ServerStats) => void)[] = [];
  #exited: Promise<number | null>;

  private constructor(
    readonly name: ServerName,
    readonly port: number,
    private readonly child: ChildProcess,
  ) {
    this.#exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    child.on('message', (message: ChildMessage) => {
      if (message.type === 'stats') this.#pendingStats.shift()?.(message);
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  /**
   * Forks `node --import tsx <entry>` and waits until it listens on loopback. Its output (the API logs like
   * production: a JSON line per request) goes to `logFile`, as a deployed server's goes to a file or a pipe.
   */
  static start(name: ServerName, config: ServerConfig, logFile: string): Promise<ServerProcess> {
    const log = openSync(logFile, 'a');
    const child = fork(ENTRY_POINTS[name], [], {
      // BENCH_CPU_PROF_DIR: write a V8 CPU profile of each server process there (node --cpu-prof), to find where the time goes.
      execArgv: ['--import', 'tsx', ...(process.env.BENCH_CPU_PROF_DIR ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF_DIR}`] : [])],
      env: { ...process.env, BENCH_SERVER_CONFIG: JSON.stringify(config), NODE_ENV: 'production' },
      stdio: ['ignore', log, log, 'ipc'],
    });
    closeSync(log);
    const tail = () => readFileSync(logFile, 'utf8').split('\n').slice(-20).join('\n');
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`${name} server did not start within 60 s`));
      }, 60_000);
      child.on('message', function onMessage(message: ChildMessage) {
        if (message.type === 'ready') {
          clearTimeout(timer);
          child.off('message', onMessage);
          resolve(new ServerProcess(name, message.port, child));
        } else if (message.type === 'error') {
          clearTimeout(timer);
          reject(new Error(`${name} server failed to start:\n${message.message}\n${tail()}`));
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`${name} server exited with code ${code} before it was ready; its log (${logFile}) ends:\n${tail()}`));
      });
    });
  }

  /** The server's counters; with `flushAudit`, after it wrote its buffered audit events (lib/server-process.ts). */
  stats(options: { flushAudit?: boolean } = {}): Promise<ServerStats> {
    return new Promise((resolve, reject) => {
      if (!this.child.connected) return reject(new Error(`${this.name} server is gone`));
      this.#pendingStats.push(resolve);
      this.child.send({ type: 'stats', ...(options.flushAudit ? { flush: true } : {}) });
    });
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    if (this.child.connected) this.child.send({ type: 'stop' });
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    await this.#exited;
    clearTimeout(timer);
  }
}
