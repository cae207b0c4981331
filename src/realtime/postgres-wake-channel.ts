import type pg from 'pg';
import { connectListenClient } from '../db/listen-client.js';
import {
  coalescingNotifier,
  connectionProblem,
  decodeWakePayload,
  encodeWakePayloads,
  RECONNECT_MAX_MS,
  RECONNECT_MIN_MS,
  redactedUrl,
  WAKE_CHANNEL,
  WakeTransportUnavailable,
  type WakeHandlers,
  type WakeTransport,
} from './wake-transport.js';

/** NOTIFY payloads must stay below 8000 bytes. */
const MAX_PAYLOAD_BYTES = 7900;

export interface PostgresWakeChannelOptions extends WakeHandlers {
  /** A direct (session) connection: LISTEN does not work through PgBouncer in transaction pooling mode. */
  readonly url: string;
}

/**
 * The cross-replica wake-up over PostgreSQL (issue 12 §2; the contract in wake-transport.ts): one session
 * connection per server that LISTENs, and through which the server also sends its own wake-ups with
 * `pg_notify`, after the writer's commit and outside its transaction (a NOTIFY inside a writer's transaction
 * would take PostgreSQL's database-wide notify lock at its commit).
 *
 * The connection needs no table grants (LISTEN/NOTIFY need none), so any login may be used for it. A replica
 * recognises its own notifications by the sending backend's pid and skips them.
 */
export class PostgresWakeChannel implements WakeTransport {
  readonly name = 'postgres';
  #client: pg.Client | undefined;
  #reconnectMs = RECONNECT_MIN_MS;
  #reconnectTimer: NodeJS.Timeout | undefined;
  #closed = false;
  #everConnected = false;
  readonly #notify: (tenantId: string) => void;

  constructor(private readonly options: PostgresWakeChannelOptions) {
    this.#notify = coalescingNotifier(async (tenantIds) => {
      // Lost with the connection: the polling safety net and the reconnect re-read cover these tenants.
      const client = this.#client;
      if (!client) return;
      for (const payload of encodeWakePayloads(tenantIds, MAX_PAYLOAD_BYTES)) await client.query('select pg_notify($1, $2)', [WAKE_CHANNEL, payload]);
    }, options.onError);
  }

  async start(): Promise<void> {
    try {
      await this.#connect();
    } catch (error) {
      throw new WakeTransportUnavailable(
        `REALTIME_LISTEN_DATABASE_URL: the realtime LISTEN connection could not connect to ${redactedUrl(this.options.url)} ` +
          `(${connectionProblem(error)}). Correct the URL (a direct connection to PostgreSQL, not PgBouncer), ` +
          'or leave it unset with an external database (wake-ups then travel over Redis if REALTIME_REDIS_URL is set, else by polling).',
      );
    }
  }

  notify(tenantId: string): void {
    if (this.#closed || !this.#client) return;
    this.#notify(tenantId);
  }

  /** The backend pid of the LISTEN connection (tests terminate it), or undefined while disconnected. */
  get backendPid(): number | undefined {
    return (this.#client as unknown as { processID?: number } | undefined)?.processID;
  }

  get connected(): boolean {
    return this.#client !== undefined;
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#reconnectTimer);
    const client = this.#client;
    this.#client = undefined;
    await client?.end().catch(() => {});
  }

  async #connect(): Promise<void> {
    const client = await connectListenClient({
      url: this.options.url,
      applicationName: 'tenantgraph-realtime-listener',
      channel: WAKE_CHANNEL,
      onNotification: (message, heard) => {
        if (!message.payload) return;
        // Its own wake-ups: this server woke its local feeds already, when it committed.
        if (message.processId === (heard as unknown as { processID?: number }).processID) return;
        const ids = decodeWakePayload(message.payload);
        if (ids.length > 0) this.options.onWake(ids);
      },
      onLost: (lost, error) => this.#lost(lost, error),
    });
    if (this.#closed) {
      await client.end().catch(() => {});
      return;
    }
    this.#client = client;
    this.#reconnectMs = RECONNECT_MIN_MS;
    if (this.#everConnected) this.options.onReconnect();
    this.#everConnected = true;
  }

  #lost(client: pg.Client, error: Error): void {
    if (this.#client !== client || this.#closed) return;
    this.#client = undefined;
    client.end().catch(() => {});
    this.options.onError(error);
    this.#scheduleReconnect();
  }

  #scheduleReconnect(): void {
    if (this.#closed) return;
    this.#reconnectTimer = setTimeout(() => {
      this.#connect().catch((error: unknown) => {
        this.options.onError(error instanceof Error ? error : new Error(String(error)));
        this.#reconnectMs = Math.min(RECONNECT_MAX_MS, this.#reconnectMs * 2);
        this.#scheduleReconnect();
      });
    }, this.#reconnectMs);
    this.#reconnectTimer.unref();
  }
}
