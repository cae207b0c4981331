import pg from 'pg';

export interface ListenConnectionOptions {
  readonly url: string;
  readonly applicationName: string;
  /** A fixed identifier of ours (never input): it is written into `LISTEN` as it is. */
  readonly channel: string;
  /** Each notification on `channel` (others are ignored), with the client that heard it. */
  readonly onNotification: (message: pg.Notification, client: pg.Client) => void;
  /** LISTEN is active on `client`; `again`: not the first attempt, so notices may have been missed meanwhile. */
  readonly onConnected?: (client: pg.Client, again: boolean) => void;
  /** The connection was lost, or a reconnect attempt failed: what it vouched for is unknown; a reconnect is scheduled. */
  readonly onLost: (error: Error) => void;
  /** The reconnect back-off: the first wait, doubled after each failed attempt up to the last. */
  readonly reconnectMs: { readonly min: number; readonly max: number };
  /** TCP keep-alive and a connect timeout, for a listener that must notice a host that drops packets. */
  readonly keepAlive?: boolean;
  readonly connectionTimeoutMillis?: number;
}

/**
 * A session connection that LISTENs on one channel and keeps itself up, for the realtime wake-ups and the
 * plan-change notices. Session, not pooled: PgBouncer's transaction mode drops LISTEN. {@link open} makes the
 * first attempt and rejects when it fails (the caller decides: give up, or {@link retry}); from then on a lost
 * connection is reported to `onLost` and opened again with back-off until {@link close}.
 */
export class ListenConnection {
  #client: pg.Client | undefined;
  #reconnectMs: number;
  #reconnectTimer: NodeJS.Timeout | undefined;
  #attempts = 0;
  #closed = false;

  constructor(private readonly options: ListenConnectionOptions) {
    this.#reconnectMs = options.reconnectMs.min;
  }

  /** The LISTEN client, or undefined while disconnected. */
  get client(): pg.Client | undefined {
    return this.#client;
  }

  /** The first attempt; rejects, scheduling nothing, when it fails. */
  open(): Promise<void> {
    return this.#connect();
  }

  /** After a failed {@link open}: report `error` and keep trying in the background. */
  retry(error: unknown): void {
    this.#failed(error);
  }

  /** `client` is to be treated as lost (e.g. it stopped answering): ends it and reconnects. */
  drop(client: pg.Client, error: Error): void {
    if (this.#client !== client || this.#closed) return;
    this.#client = undefined;
    client.end().catch(() => {});
    this.#failed(error);
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#reconnectTimer);
    const client = this.#client;
    this.#client = undefined;
    await client?.end().catch(() => {});
  }

  async #connect(): Promise<void> {
    const options = this.options;
    const again = this.#attempts++ > 0;
    const client = new pg.Client({
      connectionString: options.url,
      application_name: options.applicationName,
      ...(options.keepAlive ? { keepAlive: true } : {}),
      ...(options.connectionTimeoutMillis !== undefined ? { connectionTimeoutMillis: options.connectionTimeoutMillis } : {}),
    });
    client.on('notification', (message) => {
      if (message.channel === options.channel) options.onNotification(message, client);
    });
    client.on('error', (error) => this.drop(client, error));
    client.on('end', () => this.drop(client, new Error(`the LISTEN connection of ${options.applicationName} ended`)));
    try {
      await client.connect();
      await client.query(`LISTEN ${options.channel}`);
    } catch (error) {
      await client.end().catch(() => {});
      throw error;
    }
    if (this.#closed) {
      await client.end().catch(() => {});
      return;
    }
    this.#client = client;
    this.#reconnectMs = options.reconnectMs.min;
    options.onConnected?.(client, again);
  }

  #failed(error: unknown): void {
    this.options.onLost(error instanceof Error ? error : new Error(String(error)));
    if (this.#closed) return;
    clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = setTimeout(() => {
      this.#connect().catch((failure: unknown) => {
        this.#reconnectMs = Math.min(this.options.reconnectMs.max, this.#reconnectMs * 2);
        this.#failed(failure);
      });
    }, this.#reconnectMs);
    this.#reconnectTimer.unref();
  }
}
