import { ListenConnection } from '../db/listen-client.js';
import { isValidTenantId } from '../ids/entity-ids.js';
import { connectionProblem, RECONNECT_MAX_MS, RECONNECT_MIN_MS, redactedUrl } from '../realtime/wake-transport.js';

/** How long one connection attempt may take. */
const CONNECT_TIMEOUT_MS = 10_000;

/** The channel migrations/0021 announces plan changes on. */
export const PLAN_CHANNEL = 'tenantgraph_plan_changed';

/** A notice's payload: a tenant id, or `*` for every tenant (a plan_limits change); null for anything else. */
export function decodePlanNotice(payload: string): string | '*' | null {
  if (payload === '*') return '*';
  return isValidTenantId(payload) ? payload : null;
}

/** What the listener tells its cache (plan-limits-cache.ts has a method for each). */
export interface PlanChangeHandlers {
  /** A change committed: of this tenant's plan, or (`null`) of the plans themselves, so of every tenant's. */
  readonly onChange: (tenantId: string | null) => void;
  /** LISTEN is active (at start-up or after a loss): notices sent before may have been missed. `at`: now. */
  readonly onConnected: (at: number) => void;
  /** A heartbeat sent at `at` was answered: every notice committed before `at` has been handled. */
  readonly onConfirmed: (at: number) => void;
  /** The connection is lost (or never came up); reconnecting with back-off. */
  readonly onLost: (error: Error) => void;
}

export interface PlanChangeListenerOptions extends PlanChangeHandlers {
  /** A direct (session) connection as the app role: LISTEN does not survive PgBouncer's transaction mode. */
  readonly url: string;
  /**
   * How often the connection is asked whether it is alive (`select 1`); one unanswered for a whole interval
   * counts as a lost connection. The cache trusts the notices only while an answer is younger than its short
   * freshness, so this should be well below it (tenant-admission-setup.ts: a third of PLAN_CACHE_TTL_MS).
   */
  readonly heartbeatMs: number;
  /** The cache's clock (default performance.now). */
  readonly now?: () => number;
  readonly logger?: { warn(details: Record<string, unknown>, message: string): void; info(details: Record<string, unknown>, message: string): void };
}

/**
 * Hears plan changes (migrations/0021) on one session connection of its own per server, and keeps it up: a lost
 * connection (an error, its end, a heartbeat without answer) is reported at once and opened again after
 * RECONNECT_MIN_MS, doubling up to RECONNECT_MAX_MS (the realtime wake-up transports' back-off). `start()` never
 * rejects: without the listener the cache keeps its short freshness, so a wrong URL or a database that is down
 * at start-up costs plan re-reads, not the start (the failure is logged, and retried).
 *
 * SECURITY: a notice carries a tenant id or `*` and nothing else; it only evicts cache entries, so a forged one
 * costs a re-read under that tenant's RLS, never a leak or looser limits. LISTEN needs no grants.
 */
export class PlanChangeListener {
  readonly #options: PlanChangeListenerOptions;
  readonly #now: () => number;
  readonly #listen: ListenConnection;
  #heartbeat: NodeJS.Timeout | undefined;
  #heartbeatPending = false;
  /** A failure streak is logged once, at its start. */
  #failing = false;
  #reconnects = 0;

  constructor(options: PlanChangeListenerOptions) {
    this.#options = options;
    this.#now = options.now ?? (() => performance.now());
    this.#listen = new ListenConnection({
      url: options.url,
      applicationName: 'tenantgraph-plan-listener',
      channel: PLAN_CHANNEL,
      reconnectMs: { min: RECONNECT_MIN_MS, max: RECONNECT_MAX_MS },
      // A connect that hangs (a host that drops packets) must fail, or the listener would never try again.
      keepAlive: true,
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      onNotification: (message) => {
        if (message.payload === undefined) return;
        const notice = decodePlanNotice(message.payload);
        if (notice !== null) options.onChange(notice === '*' ? null : notice);
      },
      onConnected: (_client, again) => this.#connected(again),
      onLost: (error) => this.#lost(error),
    });
  }

  /** Connects and LISTENs; on failure reports it (onLost) and retries in the background. Never rejects. */
  async start(): Promise<void> {
    try {
      await this.#listen.open();
    } catch (error) {
      this.#listen.retry(error);
    }
    this.#heartbeat = setInterval(() => this.#beat(), this.#options.heartbeatMs);
    this.#heartbeat.unref();
  }

  get connected(): boolean {
    return this.#listen.client !== undefined;
  }

  /** Times the connection came back after a loss (or after a failed start). */
  get reconnects(): number {
    return this.#reconnects;
  }

  /** The backend pid of the LISTEN connection (tests terminate it), or undefined while disconnected. */
  get backendPid(): number | undefined {
    return (this.#listen.client as unknown as { processID?: number } | undefined)?.processID;
  }

  async close(): Promise<void> {
    clearInterval(this.#heartbeat);
    await this.#listen.close();
  }

  #connected(again: boolean): void {
    this.#heartbeatPending = false;
    if (again) {
      this.#reconnects++;
      this.#options.logger?.info({ reconnects: this.#reconnects }, 'plan change listener connected again; cached plans cleared');
    }
    this.#failing = false;
    this.#options.onConnected(this.#now());
  }

  #beat(): void {
    const client = this.#listen.client;
    if (!client) return;
    if (this.#heartbeatPending) {
      // A whole interval without an answer: a connection that died silently (no RST, no FIN) looks like this.
      this.#listen.drop(client, new Error(`the plan LISTEN connection did not answer a heartbeat within ${this.#options.heartbeatMs} ms`));
      (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
      return;
    }
    this.#heartbeatPending = true;
    const sentAt = this.#now();
    client.query('select 1').then(
      () => {
        if (this.#listen.client !== client) return;
        this.#heartbeatPending = false;
        this.#options.onConfirmed(sentAt);
      },
      () => {
        // The connection's error or end event reports the loss.
      },
    );
  }

  #lost(problem: Error): void {
    this.#options.onLost(problem);
    if (!this.#failing) {
      this.#failing = true;
      this.#options.logger?.warn(
        { err: { message: connectionProblem(problem) }, url: redactedUrl(this.#options.url) },
        'plan change listener not connected; cached plans are re-read every PLAN_CACHE_TTL_MS until it is',
      );
    }
  }
}
