import pg from 'pg';
import { isValidTenantId } from '../ids/entity-ids.js';

/** The one PostgreSQL notification channel of realtime wake-ups. */
export const WAKE_CHANNEL = 'tenantgraph_realtime';
/** NOTIFY payloads must stay below 8000 bytes; tenant ids are at most 19 digits plus a comma. */
const MAX_PAYLOAD_BYTES = 7900;
const RECONNECT_MIN_MS = 100;
const RECONNECT_MAX_MS = 5000;

export interface WakeChannelOptions {
  /** A direct (session) connection: LISTEN does not work through PgBouncer in transaction pooling mode. */
  readonly url: string;
  /** Tenants some replica wrote events for (ids only, validated). */
  readonly onWake: (tenantIds: readonly string[]) => void;
  /** The connection came back after a loss: notifications sent meanwhile are gone, so every local tenant is re-read. */
  readonly onReconnect: () => void;
  readonly onError: (error: Error) => void;
}

/**
 * The cross-replica wake-up (issue 12 §2): one session connection per server that LISTENs, and through which the
 * server also sends its own wake-ups with `pg_notify`, after the writer's commit and outside its transaction (a
 * NOTIFY inside a writer's transaction would take PostgreSQL's database-wide notify lock at its commit).
 *
 * SECURITY: a notification carries tenant ids and nothing else — no row data, no position — and a received id
 * only makes this server re-read that tenant's events under that tenant's RLS. The connection needs no table
 * grants (LISTEN/NOTIFY need none), so any login may be used for it.
 *
 * A wake-up is only ever a hint: a lost one (connection down, server restart) delays an event until the polling
 * safety net or the reconnect re-read, it never loses it, because events are read from the table by position.
 */
export class WakeChannel {
  #client: pg.Client | undefined;
  #pending = new Set<string>();
  #flushing = false;
  #reconnectMs = RECONNECT_MIN_MS;
  #reconnectTimer: NodeJS.Timeout | undefined;
  #closed = false;
  #everConnected = false;

  constructor(private readonly options: WakeChannelOptions) {}

  /** Connects and LISTENs; rejects if the first connection fails (a wrong URL should stop the start-up). */
  async start(): Promise<void> {
    await this.#connect();
  }

  /** Sends a wake-up for `tenantId` soon, coalesced with others into as few notifications as possible. */
  notify(tenantId: string): void {
    if (this.#closed || !this.#client) return;
    this.#pending.add(tenantId);
    if (!this.#flushing) {
      this.#flushing = true;
      setImmediate(() => void this.#flush());
    }
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
    const client = new pg.Client({ connectionString: this.options.url, application_name: 'tenantgraph-realtime-listener' });
    client.on('notification', (message) => {
      if (message.channel !== WAKE_CHANNEL || !message.payload) return;
      // Its own wake-ups: this server woke its local feeds already, when it committed.
      if (message.processId === (client as unknown as { processID?: number }).processID) return;
      const ids = message.payload.split(',').filter((id) => isValidTenantId(id));
      if (ids.length > 0) this.options.onWake(ids);
    });
    client.on('error', (error) => this.#lost(client, error));
    client.on('end', () => this.#lost(client, new Error('the LISTEN connection ended')));
    await client.connect();
    await client.query(`LISTEN ${WAKE_CHANNEL}`);
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

  async #flush(): Promise<void> {
    try {
      while (this.#pending.size > 0 && this.#client) {
        const payloads = chunk([...this.#pending]);
        this.#pending.clear();
        const client = this.#client;
        for (const payload of payloads) await client.query('select pg_notify($1, $2)', [WAKE_CHANNEL, payload]);
      }
    } catch (error) {
      // Lost with the connection: the polling safety net and the reconnect re-read cover these tenants.
      this.options.onError(error instanceof Error ? error : new Error(String(error)));
    } finally {
      this.#pending.clear();
      this.#flushing = false;
    }
  }
}

function chunk(ids: string[]): string[] {
  const payloads: string[] = [];
  let current = '';
  for (const id of ids) {
    if (current && current.length + 1 + id.length > MAX_PAYLOAD_BYTES) {
      payloads.push(current);
      current = '';
    }
    current = current ? `${current},${id}` : id;
  }
  if (current) payloads.push(current);
  return payloads;
}
