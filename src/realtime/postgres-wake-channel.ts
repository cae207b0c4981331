import { ListenConnection } from '../db/listen-client.js';
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
  readonly #listen: ListenConnection;
  #closed = false;
  readonly #notify: (tenantId: string) => void;

  constructor(private readonly options: PostgresWakeChannelOptions) {
    this.#listen = new ListenConnection({
      url: options.url,
      applicationName: 'tenantgraph-realtime-listener',
      channel: WAKE_CHANNEL,
      reconnectMs: { min: RECONNECT_MIN_MS, max: RECONNECT_MAX_MS },
      onNotification: (message, heard) => {
        if (!message.payload) return;
        // Its own wake-ups: this server woke its local feeds already, when it committed.
        if (message.processId === (heard as unknown as { processID?: number }).processID) return;
        const ids = decodeWakePayload(message.payload);
        if (ids.length > 0) options.onWake(ids);
      },
      onConnected: (_client, again) => {
        if (again) options.onReconnect();
      },
      onLost: (error) => options.onError(error),
    });
    this.#notify = coalescingNotifier(async (tenantIds) => {
      // Lost with the connection: the polling safety net and the reconnect re-read cover these tenants.
      const client = this.#listen.client;
      if (!client) return;
      for (const payload of encodeWakePayloads(tenantIds, MAX_PAYLOAD_BYTES)) await client.query('select pg_notify($1, $2)', [WAKE_CHANNEL, payload]);
    }, options.onError);
  }

  async start(): Promise<void> {
    try {
      await this.#listen.open();
    } catch (error) {
      throw new WakeTransportUnavailable(
        `REALTIME_LISTEN_DATABASE_URL: the realtime LISTEN connection could not connect to ${redactedUrl(this.options.url)} ` +
          `(${connectionProblem(error)}). Correct the URL (a direct connection to PostgreSQL, not PgBouncer), ` +
          'or leave it unset with an external database (wake-ups then travel over Redis if REALTIME_REDIS_URL is set, else by polling).',
      );
    }
  }

  notify(tenantId: string): void {
    if (this.#closed || !this.#listen.client) return;
    this.#notify(tenantId);
  }

  /** The backend pid of the LISTEN connection (tests terminate it), or undefined while disconnected. */
  get backendPid(): number | undefined {
    return (this.#listen.client as unknown as { processID?: number } | undefined)?.processID;
  }

  get connected(): boolean {
    return this.#listen.client !== undefined;
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#listen.close();
  }
}
