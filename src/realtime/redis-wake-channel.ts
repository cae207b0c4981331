import { randomBytes } from 'node:crypto';
import { createClient } from '@redis/client';
import {
  coalescingNotifier,
  connectionProblem,
  decodeWakePayload,
  encodeWakePayloads,
  RECONNECT_MAX_MS,
  RECONNECT_MIN_MS,
  redactedUrl,
  WakeTransportUnavailable,
  type WakeHandlers,
  type WakeTransport,
} from './wake-transport.js';

/** One publish per this many bytes of ids; Redis has no small payload limit, this only keeps messages modest. */
const MAX_PAYLOAD_BYTES = 7900;

export interface RedisWakeChannelOptions extends WakeHandlers {
  /** `redis://[user:password@]host:port[/db]` or `rediss://` for TLS (REALTIME_REDIS_URL). */
  readonly url: string;
  /** The channel name every replica of one deployment shares (REALTIME_REDIS_CHANNEL). */
  readonly channel: string;
}

/**
 * The cross-replica wake-up over Redis pub/sub (the optional transport of issue 12 §2; the contract in
 * wake-transport.ts), for deployments that already run Redis and would rather not hold a PostgreSQL session per
 * replica for LISTEN, or send notifications through PostgreSQL's notify queue.
 *
 * Two connections per server, because a connection in subscriber mode cannot publish: one publishes, one
 * subscribes. Each replica publishes on `<channel>:<its random id>` and subscribes to the pattern `<channel>:*`,
 * so it recognises its own wake-ups by the channel they arrive on — the payload stays tenant ids only.
 *
 * Faults: node-redis reconnects by itself (with back-off here) and subscribes again before it reports `ready`;
 * the `ready` after a loss calls `onReconnect`, so every tenant this server serves is re-read. The publisher has
 * no offline queue: a wake-up sent while it is down fails at once instead of piling up in memory, and polling
 * covers it. Both connections are named (`CLIENT LIST` shows them; tests kill them by name).
 */
export class RedisWakeChannel implements WakeTransport {
  readonly name = 'redis';
  /** This replica's id in channel and connection names (not secret: it only tells replicas apart). */
  readonly #instance = randomBytes(6).toString('hex');
  readonly #ownChannel: string;
  /** The connection names, set with CLIENT SETNAME on every (re)connection (`CLIENT LIST` shows them). */
  readonly connectionNames: { readonly publisher: string; readonly subscriber: string };
  readonly #publisher;
  readonly #subscriber;
  readonly #notify: (tenantId: string) => void;
  #started = false;
  #closed = false;
  /** The subscriber lost its connection since it was last ready: its next `ready` is a reconnect. */
  #subscriberLost = false;

  constructor(private readonly options: RedisWakeChannelOptions) {
    this.#ownChannel = `${options.channel}:${this.#instance}`;
    this.connectionNames = { publisher: `tenantgraph-realtime-pub-${this.#instance}`, subscriber: `tenantgraph-realtime-sub-${this.#instance}` };
    // Before the first connection a failure is final (start() rejects: a wrong URL stops the start-up); after it,
    // reconnect for as long as the server runs.
    const reconnectStrategy = (retries: number, cause: Error) =>
      this.#started && !this.#closed ? Math.min(RECONNECT_MAX_MS, RECONNECT_MIN_MS * 2 ** retries) : cause;
    const client = (name: string) =>
      createClient({
        url: options.url,
        name,
        disableOfflineQueue: true,
        socket: { reconnectStrategy, connectTimeout: 5000 },
      });
    this.#publisher = client(this.connectionNames.publisher);
    this.#subscriber = client(this.connectionNames.subscriber);
    // node-redis emits 'error' for every failed attempt, retried or not; without a listener it would throw.
    this.#publisher.on('error', (error: Error) => this.#reportError(error));
    this.#subscriber.on('error', (error: Error) => this.#reportError(error));
    this.#subscriber.on('end', () => (this.#subscriberLost = true));
    this.#subscriber.on('reconnecting', () => (this.#subscriberLost = true));
    this.#subscriber.on('ready', () => {
      if (!this.#started || !this.#subscriberLost) return;
      this.#subscriberLost = false;
      options.onReconnect();
    });
    this.#notify = coalescingNotifier(async (tenantIds) => {
      for (const payload of encodeWakePayloads(tenantIds, MAX_PAYLOAD_BYTES)) await this.#publisher.publish(this.#ownChannel, payload);
    }, options.onError);
  }

  async start(): Promise<void> {
    try {
      await Promise.all([this.#publisher.connect(), this.#subscriber.connect()]);
      await this.#subscriber.pSubscribe(`${this.options.channel}:*`, (message: string, channel: string) => {
        if (channel === this.#ownChannel) return;
        const ids = decodeWakePayload(message);
        if (ids.length > 0) this.options.onWake(ids);
      });
    } catch (error) {
      await this.close();
      throw new WakeTransportUnavailable(
        `REALTIME_REDIS_URL: could not connect to Redis at ${redactedUrl(this.options.url)} ` +
          `(${connectionProblem(error)}). Start Redis there, correct the URL, or unset REALTIME_REDIS_URL ` +
          '(wake-ups then travel over PostgreSQL LISTEN, or polling only).',
      );
    }
    this.#started = true;
  }

  notify(tenantId: string): void {
    if (this.#closed || !this.#publisher.isReady) return;
    this.#notify(tenantId);
  }

  get connected(): boolean {
    return this.#publisher.isReady && this.#subscriber.isReady;
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const client of [this.#publisher, this.#subscriber]) {
      if (client.isOpen) client.destroy();
    }
  }

  #reportError(error: Error): void {
    // Start-up failures are reported once, by start()'s refusal.
    if (this.#started && !this.#closed) this.options.onError(error);
  }
}
