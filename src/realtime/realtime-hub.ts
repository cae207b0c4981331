import type { GraphQLSchema } from 'graphql';
import type { AppDatabase } from '../db/kysely.js';
import { NotFoundError } from '../errors/app-error.js';
import { findSubscriptionStart, pruneEvents } from '../modules/realtime/queries.js';
import type { RealtimeMetrics } from '../observability/realtime-metrics.js';
import type { RequestTransaction } from '../tenancy/request-transaction.js';
import type { TenantAdmission } from '../tenancy/tenant-admission.js';
import { beginTenantTransaction, commitOrRollBack, type TenantTransaction } from '../tenancy/tenant-transaction.js';
import type { TenantScope } from '../tenancy/transaction-prologue.js';
import type { Subscriber } from './subscriber.js';
import { cursorExpired, TenantFeed, type TenantFeedSettings } from './tenant-feed.js';
import type { WakeTransport } from './wake-transport.js';
import { wakeTransportsFor } from './wake-transports.js';

/** Realtime settings (REALTIME_* in src/config/env.ts, where the defaults live). */
export interface RealtimeSettings {
  /** A wake-up waits this long before its batch runs, so events committed meanwhile share the batch. */
  readonly batchWindowMs: number;
  /** The polling safety net: every tenant with subscribers here is re-read this often (a lost wake-up costs at most this). */
  readonly pollIntervalMs: number;
  readonly maxEventsPerBatch: number;
  /** Resume retention: events older than this, or more than `retentionEvents` behind the newest, are not replayed. */
  readonly retentionMs: number;
  readonly retentionEvents: number;
  /** How often events past retention are deleted (tenants this server wrote for or serves). */
  readonly pruneIntervalMs: number;
  readonly maxSubscriptionsPerSocket: number;
  /** Authenticated sockets of one tenant on this server. */
  readonly maxSocketsPerTenant: number;
  /** Sockets not yet past `connection_init`, per remote address and in total on this server (pending-socket-limiter.ts). */
  readonly maxPendingSocketsPerAddress: number;
  readonly maxPendingSockets: number;
  /** Subscriptions of one tenant on this server. */
  readonly maxSubscriptionsPerTenant: number;
  /** Bounds of each subscriber's queue; beyond either the socket is closed as a slow consumer. */
  readonly queueMaxEvents: number;
  readonly queueMaxBytes: number;
  /** A subscriber whose queue stays full this long is dropped as a slow consumer (its socket closes with 4413). */
  readonly slowConsumerMs: number;
  /** A direct (session) connection for LISTEN/NOTIFY, not through PgBouncer; null: no PostgreSQL wake-ups. */
  readonly listenUrl: string | null;
  /** Redis for wake-ups between replicas (pub/sub), beside or instead of LISTEN; null: no Redis. */
  readonly redisUrl: string | null;
  /** The Redis channel name the replicas of one deployment share. */
  readonly redisChannel: string;
}

export interface RealtimeHubOptions {
  readonly database: AppDatabase;
  readonly schema: GraphQLSchema;
  readonly settings: RealtimeSettings;
  readonly transaction: { readonly statementTimeoutMs: number; readonly idleInTransactionTimeoutMs: number };
  readonly metrics: RealtimeMetrics;
  /** The tenants' fair share of the pool: fan-out batches wait for their tenant's turn like requests do. */
  readonly admission?: TenantAdmission | undefined;
  readonly logger: { warn(details: Record<string, unknown>, message: string): void };
  /** A subscribed user is no longer a member of its tenant: close its socket. */
  readonly onNotMember: (subscriber: Subscriber) => void;
  readonly onTenantSuspended: (subscriber: Subscriber) => void;
  /**
   * How the subscribers of one tenant on this server are served; default: a TenantFeed (one batch transaction
   * per tenant per batch window). Not reachable from the environment: the benchmark replaces it with the
   * per-subscriber baseline it compares against (bench/lib/per-subscriber-feed.ts).
   */
  readonly createFeed?: FeedFactory | undefined;
}

/** The fan-out of one tenant's subscribers on this server (TenantFeed is the product's). */
export interface Feed {
  readonly subscribers: Set<Subscriber>;
  /**
   * Events may be waiting: serve them (soon; wake-ups may be coalesced). `source`: a commit here or on another
   * replica, the polling safety net, a new subscriber, a full queue with room again.
   */
  wake(source: WakeSource): void;
  /** Graceful stop: what is scheduled or running finishes, nothing new starts. */
  settle(): Promise<void>;
}

export type WakeSource = 'local' | 'notification' | 'poll' | 'subscribed' | 'room';

export type FeedFactory = (tenantId: string, settings: TenantFeedSettings) => Feed;

/**
 * This server's realtime fan-out: one TenantFeed per tenant with subscribers here, woken after a local commit
 * (`committed`), by another replica's wake-up (any configured WakeTransport: PostgreSQL LISTEN, Redis), and by
 * the polling safety net. With no transport, other replicas' events arrive by polling only.
 */
export class RealtimeHub {
  readonly #feeds = new Map<string, Feed>();
  /** Tenants this server wrote events for since the last pruning run (the app role cannot list tenants). */
  readonly #recentWriters = new Set<string>();
  #transports: WakeTransport[] = [];
  #poll: NodeJS.Timeout | undefined;
  #prune: NodeJS.Timeout | undefined;
  #pruning: Promise<void> | undefined;
  #stopped = false;

  constructor(private readonly options: RealtimeHubOptions) {}

  async start(): Promise<void> {
    const { settings, metrics, logger } = this.options;
    this.#transports = wakeTransportsFor(settings, (transport) => ({
      onWake: (tenantIds) => {
        for (const tenantId of tenantIds) this.#wake(tenantId, 'notification');
      },
      onReconnect: () => {
        metrics.listenerReconnects.inc({ transport });
        for (const tenantId of this.#feeds.keys()) this.#wake(tenantId, 'notification');
      },
      onError: (error) => logger.warn({ err: { message: error.message }, transport }, 'realtime wake-up connection problem; polling covers the gap'),
    }));
    for (const transport of this.#transports) await transport.start();
    this.#poll = setInterval(
      () => {
        this.#dropSlowConsumers();
        for (const tenantId of this.#feeds.keys()) this.#wake(tenantId, 'poll');
      },
      Math.min(settings.pollIntervalMs, settings.slowConsumerMs),
    );
    this.#poll.unref();
    this.#prune = setInterval(() => {
      this.#pruning ??= this.#pruneRetention().finally(() => (this.#pruning = undefined));
    }, settings.pruneIntervalMs);
    this.#prune.unref();
  }

  /** The wake-up transports this server runs (tests cut their connections). */
  get wakeTransports(): readonly WakeTransport[] {
    return this.#transports;
  }

  /** A mutation of `tenantId` committed on this server: wake local subscribers and the other replicas. */
  committed(tenantId: string): void {
    if (this.#stopped) return;
    this.#recentWriters.add(tenantId);
    this.#wake(tenantId, 'local');
    for (const transport of this.#transports) transport.notify(tenantId);
  }

  subscriptionsOf(tenantId: string): number {
    return this.#feeds.get(tenantId)?.subscribers.size ?? 0;
  }

  /**
   * Where a new subscription starts: its tenant's newest position, or the position of `after` once it is checked
   * to be within retention. One statement in `transaction`, the subscriber's own request transaction (admitted
   * by its tenant's fair share, membership checked by its prologue, audited as the subscription's start), which
   * it commits, or rolls back when it throws. Throws NOT_FOUND for a conversation the tenant does not have
   * (another tenant's looks the same), CURSOR_EXPIRED for a cursor past retention or ahead of the stream.
   */
  async startPosition(
    transaction: RequestTransaction,
    conversation: { localId: string; globalId: string } | null,
    after: bigint | null,
  ): Promise<bigint> {
    let start;
    try {
      start = await findSubscriptionStart(await transaction.get(), conversation?.localId ?? null, after?.toString() ?? null);
      await transaction.commit();
    } finally {
      await transaction.rollback();
    }
    if (!start.conversationFound) throw new NotFoundError('conversation', conversation!.globalId);
    const head = BigInt(start.head);
    if (after === null) return head;
    if (after > head) throw cursorExpired();
    if (after === head) return after;
    const { retentionEvents, retentionMs } = this.options.settings;
    const contiguous = start.nextPosition !== null && BigInt(start.nextPosition) === after + 1n;
    const recent = start.nextOccurredAt !== null && Date.now() - Date.parse(start.nextOccurredAt) <= retentionMs;
    if (!contiguous || !recent || head - after > BigInt(retentionEvents)) throw cursorExpired();
    return after;
  }

  register(subscriber: Subscriber): void {
    // A start that finished after the stop began: its socket is about to close with 1001 anyway.
    if (this.#stopped) {
      subscriber.end('shutdown');
      return;
    }
    let feed = this.#feeds.get(subscriber.tenantId);
    if (!feed) {
      const { database, schema, settings, transaction, metrics, logger, admission, createFeed } = this.options;
      feed = (createFeed ?? ((tenantId, feedSettings) => new TenantFeed(tenantId, feedSettings)))(subscriber.tenantId, {
        database,
        schema,
        admission,
        ...transaction,
        batchWindowMs: settings.batchWindowMs,
        maxEventsPerBatch: settings.maxEventsPerBatch,
        onNotMember: this.options.onNotMember,
        onTenantSuspended: this.options.onTenantSuspended,
        onBatch: (outcome, statements, error) => {
          metrics.batches.inc({ outcome });
          if (outcome === 'ok') metrics.batchStatements.observe(statements);
          else
            logger.warn(
              { err: { message: (error as Error)?.message, code: (error as { code?: string })?.code } },
              'realtime batch failed; retried on the next wake-up',
            );
        },
      });
      this.#feeds.set(subscriber.tenantId, feed);
    }
    feed.subscribers.add(subscriber);
    // A resume (or a commit between the start read and now) is served at once, not at the next event.
    feed.wake('subscribed');
  }

  unregister(subscriber: Subscriber): void {
    const feed = this.#feeds.get(subscriber.tenantId);
    if (!feed) return;
    feed.subscribers.delete(subscriber);
    if (feed.subscribers.size === 0) this.#feeds.delete(subscriber.tenantId);
  }

  /** Graceful stop: no more wake-ups; batches in flight finish (their results are queued for sending). */
  async drain(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#poll);
    clearInterval(this.#prune);
    await Promise.all([...this.#feeds.values()].map((feed) => feed.settle()));
    await this.#pruning;
  }

  async close(): Promise<void> {
    await this.drain();
    await Promise.all(this.#transports.map((transport) => transport.close()));
  }

  /** Subscribers whose queue has been full longer than `slowConsumerMs` end (their socket closes with 4413). */
  #dropSlowConsumers(): void {
    const now = performance.now();
    for (const feed of this.#feeds.values()) {
      for (const subscriber of feed.subscribers) {
        if (subscriber.fullSince !== undefined && now - subscriber.fullSince > this.options.settings.slowConsumerMs) subscriber.end('slow_consumer');
      }
    }
  }

  /** A full subscriber has room again: its feed goes on from its position. */
  room(subscriber: Subscriber): void {
    this.#feeds.get(subscriber.tenantId)?.wake('room');
  }

  #wake(tenantId: string, source: 'local' | 'notification' | 'poll'): void {
    const feed = this.#feeds.get(tenantId);
    if (!feed) return;
    this.options.metrics.wakeups.inc({ source });
    feed.wake(source);
  }

  async #pruneRetention(): Promise<void> {
    const tenants = new Set([...this.#recentWriters, ...this.#feeds.keys()]);
    this.#recentWriters.clear();
    const { retentionEvents, retentionMs } = this.options.settings;
    for (const tenantId of tenants) {
      if (this.#stopped) return;
      try {
        await this.#inTransaction({ tenantId, userId: null }, false, (tx) => pruneEvents(tx, retentionEvents, retentionMs));
      } catch (error) {
        this.options.logger.warn({ err: { message: (error as Error).message }, tenantId }, 'realtime event pruning failed; retried next run');
      }
    }
  }

  /** Pruning entry point for tests and operators: prunes one tenant now. */
  pruneTenant(tenantId: string): Promise<number> {
    const { retentionEvents, retentionMs } = this.options.settings;
    return this.#inTransaction({ tenantId, userId: null }, false, (tx) => pruneEvents(tx, retentionEvents, retentionMs));
  }

  async #inTransaction<T>(scope: TenantScope, readOnly: boolean, work: (tx: TenantTransaction) => Promise<T>): Promise<T> {
    return commitOrRollBack(await beginTenantTransaction(this.options.database, scope, { readOnly, ...this.options.transaction }), work);
  }
}
