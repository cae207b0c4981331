import { execute, type ExecutionResult, type GraphQLSchema } from 'graphql';
import type { AppDatabase } from '../db/kysely.js';
import { AppError } from '../errors/app-error.js';
import type { RequestContext } from '../graphql/request-context.js';
import { createLoaders, type Loaders } from '../modules/index.js';
import { readEventBatch, type EventBatch } from '../modules/realtime/queries.js';
import type { RealtimeEventParent, RealtimeEventRow } from '../modules/realtime/rows.js';
import { createRequestTelemetry } from '../observability/request-telemetry.js';
import type { TenantAdmission } from '../tenancy/tenant-admission.js';
import { beginTenantTransaction, commitOrRollBack, type TenantTransaction } from '../tenancy/tenant-transaction.js';
import { encodeEventCursor } from './event-cursor.js';
import type { Feed } from './realtime-hub.js';
import type { Subscriber } from './subscriber.js';

export interface TenantFeedSettings {
  readonly database: AppDatabase;
  readonly schema: GraphQLSchema;
  /** The tenants' fair share of the pool (as for requests); absent in tools without one. */
  readonly admission?: TenantAdmission | undefined;
  readonly statementTimeoutMs: number;
  readonly idleInTransactionTimeoutMs: number;
  /** How long a wake-up waits for more before the batch runs: events committed meanwhile share one batch. */
  readonly batchWindowMs: number;
  /** Events read per batch at most; a full batch is followed by another at once (a resume catching up). */
  readonly maxEventsPerBatch: number;
  /** A subscribed user who is no longer a member: the server closes its socket (4403). */
  readonly onNotMember: (subscriber: Subscriber) => void;
  /** A batch found the tenant suspended: every subscriber of it ends. */
  readonly onTenantSuspended: (subscriber: Subscriber) => void;
  readonly onBatch: (outcome: 'ok' | 'failed', statements: number, error?: unknown) => void;
}

/**
 * The fan-out of one tenant on this server: every subscriber of the tenant here, served by ONE short tenant
 * transaction per batch window (issue 12 §2), however many subscribers there are:
 *
 *   1. the prologue (`start transaction read only; select app.enter_tenant(<tenant>, null, …)`),
 *   2. one statement reading the events after the lowest subscriber position, their messages, conversations and
 *      users, and which subscribed users are still members (modules/realtime/queries.ts),
 *   3. COMMIT,
 *
 * and between 2 and 3 each subscriber's document is executed against each event it has not had yet, with loaders
 * primed from (2) and bound to this transaction, once per event for all subscribers with the same document and
 * variables (SharedExecutions; payloads are the tenant's data, executed for no user). So a subscriber only ever
 * receives rows read under its own tenant's RLS in a transaction that confirmed its membership, and no
 * transaction outlives its batch (graphql-ws' per-subscription context would have kept one open across events;
 * STACK-NOTES "Realtime facts").
 *
 * No gap, no duplicate: positions are gap-free and commit-ordered per tenant (migrations/0010), each subscriber
 * receives exactly the events after its own position and its position then moves past them. A hole in the
 * positions read means pruning removed events the subscriber still needed: it ends with CURSOR_EXPIRED.
 */
export class TenantFeed implements Feed {
  readonly subscribers = new Set<Subscriber>();
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #again = false;
  #closed = false;

  constructor(
    readonly tenantId: string,
    private readonly settings: TenantFeedSettings,
  ) {}

  /** Schedules a batch after the batch window (once, however many wake-ups arrive meanwhile), whatever woke it. */
  wake(): void {
    if (this.#closed) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    if (this.#timer) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#running = this.#run().finally(() => {
        this.#running = undefined;
        if (this.#again) {
          this.#again = false;
          this.wake();
        }
      });
    }, this.settings.batchWindowMs);
  }

  /**
   * For a graceful stop: a batch waiting for its window runs now, a running one finishes, and no later wake-up
   * starts another. So every event committed before the stop is delivered (queued for its sockets).
   */
  async settle(): Promise<void> {
    if (this.#closed) return this.#running;
    const scheduled = this.#timer !== undefined || this.#again;
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#running;
    if (scheduled) {
      this.#running = this.#run().finally(() => (this.#running = undefined));
      await this.#running;
    }
  }

  async #run(): Promise<void> {
    // A full subscriber waits for room (Subscriber.onRoom wakes the feed): it neither receives nor holds back
    // the batch's starting position, so a slow socket costs its tenant's batches nothing.
    const subscribers = [...this.subscribers].filter((subscriber) => !subscriber.ended && !subscriber.full);
    if (subscribers.length === 0) return;
    let statements = 0;
    try {
      const full = await this.#batch(subscribers, () => statements++);
      this.settings.onBatch('ok', statements);
      if (full) this.#again = true;
    } catch (error) {
      // SECURITY: the tenant no longer exists (`cli tenant delete`: app.enter_tenant refuses it, SQLSTATE TG002):
      // none of its subscribers is a member of anything; they end as removed members do.
      if ((error as { code?: unknown }).code === 'TG002') {
        for (const subscriber of subscribers) this.settings.onNotMember(subscriber);
        this.settings.onBatch('ok', statements);
        return;
      }
      // The events stay in the table: the next wake-up (at the latest the polling safety net) reads them again.
      this.settings.onBatch('failed', statements, error);
    }
  }

  /** One batch; true when it read a full batch of events (more may be waiting). */
  async #batch(subscribers: Subscriber[], countStatement: () => void): Promise<boolean> {
    const from = subscribers.reduce((low, subscriber) => (subscriber.position < low ? subscriber.position : low), subscribers[0]!.position);
    const userIds = [...new Set(subscribers.map((subscriber) => subscriber.userId))];
    const { database, idleInTransactionTimeoutMs, admission } = this.settings;
    let statementTimeoutMs = this.settings.statementTimeoutMs;
    // SECURITY (fairness): a batch holds one of its tenant's connection permits, like a request, so a tenant with
    // many subscribers cannot take the pool from the others.
    const limits = admission ? await admission.limitsOf(this.tenantId) : undefined;
    if (limits) statementTimeoutMs = Math.min(statementTimeoutMs, limits.statementTimeoutMs);
    const permit = admission && limits ? await admission.admit(this.tenantId, limits, new AbortController().signal) : undefined;
    try {
      return await this.#batchAdmitted(subscribers, from, userIds, countStatement, statementTimeoutMs, database, idleInTransactionTimeoutMs);
    } finally {
      permit?.release();
    }
  }

  async #batchAdmitted(
    subscribers: Subscriber[],
    from: bigint,
    userIds: string[],
    countStatement: () => void,
    statementTimeoutMs: number,
    database: AppDatabase,
    idleInTransactionTimeoutMs: number,
  ): Promise<boolean> {
    // SECURITY: the tenant transaction of this tenant (RLS applies to every row read); no user is entered, the
    // membership of every subscribed user is checked by the batch statement itself.
    const tx = await beginTenantTransaction(
      database,
      { tenantId: this.tenantId, userId: null },
      { readOnly: true, statementTimeoutMs, idleInTransactionTimeoutMs },
      countStatement,
    );
    const batch = await commitOrRollBack(tx, async () => {
      const batch = await readEventBatch(tx, from.toString(), this.settings.maxEventsPerBatch, userIds);
      // SECURITY: a suspended tenant's live subscriptions end within one batch window (the server's own batches act
      // for no user, which the prologue lets through; this statement reads the suspension with the membership).
      if (batch.suspended) {
        for (const subscriber of subscribers) this.settings.onTenantSuspended(subscriber);
        return batch;
      }
      const members = new Set(batch.members);
      const entitled: Subscriber[] = [];
      for (const subscriber of subscribers) {
        // SECURITY: a user removed from the tenant receives nothing of this batch or any later one.
        if (members.has(subscriber.userId)) entitled.push(subscriber);
        else this.settings.onNotMember(subscriber);
      }
      if (batch.events.length > 0 && entitled.length > 0) {
        const executions = new SharedExecutions(this.settings.schema, batchContext(this.tenantId, primedLoaders(tx, batch), tx));
        await Promise.all(entitled.map((subscriber) => this.#deliver(subscriber, batch.events, executions)));
      }
      return batch;
    });
    return batch.events.length === this.settings.maxEventsPerBatch;
  }

  async #deliver(subscriber: Subscriber, events: readonly RealtimeEventRow[], executions: SharedExecutions): Promise<void> {
    for (const event of events) {
      // Full: the position stays here and the rest waits in the table until the socket has taken some.
      if (subscriber.ended || subscriber.full) return;
      const position = BigInt(event.position);
      if (position <= subscriber.position) continue;
      if (position !== subscriber.position + 1n) {
        subscriber.fail(cursorExpired(), 'cursor_expired');
        return;
      }
      subscriber.position = position;
      if (!subscriber.matches(event)) continue;
      const result = await executions.resultFor(subscriber, event, encodeEventCursor(this.tenantId, event.position));
      if (!subscriber.push(result, event.occurred_at)) return;
    }
  }
}

export function cursorExpired(): AppError {
  return new AppError(
    'CURSOR_EXPIRED',
    'The events after this cursor are no longer retained (or the cursor is not from this stream); refetch, then subscribe without `after`.',
    { field: 'after' },
  );
}

/**
 * The loaders of one batch, shared by the tenant's subscribers in it: same tenant, same transaction, same RLS
 * (a loader cache must never cross tenants; here it never does). Primed with the rows the batch read, so the
 * usual payload selections (a message, its author and conversation) cost no statement.
 */
function primedLoaders(tx: TenantTransaction, batch: EventBatch): Loaders {
  const loaders = createLoaders(() => Promise.resolve(tx));
  for (const message of batch.messages) loaders.messageById.prime(message.id, message);
  for (const conversation of batch.conversations) loaders.conversationById.prime(conversation.id, conversation);
  for (const user of batch.users) loaders.userById.prime(user.id, user);
  return loaders;
}

/**
 * What resolvers see while a document runs in a batch: the batch's transaction and loaders, and NO principal.
 * SECURITY: a payload is the tenant's data, read under the tenant's RLS in a transaction that confirmed every
 * receiver's membership, and is shared by the subscribers with the same document and variables; a resolver that
 * asked for the viewer (principalOf, viewerOf) throws here instead of answering for one subscriber to another.
 */
function batchContext(tenantId: string, loaders: Loaders, tx: TenantTransaction): RequestContext {
  return {
    requestId: `realtime-batch/${tenantId}`,
    principal: null,
    transaction: null,
    tx: () => Promise.resolve(tx),
    loaders,
    telemetry: createRequestTelemetry(),
  };
}

/**
 * The results of one batch's executions, by event and execution key: subscribers that follow the same thing
 * with the same document (a room's members, a user's tabs) cost one execution per event, not one each.
 * SECURITY (memory): at most MAX_SHARED_RESULTS results are kept per batch; beyond, documents run unshared.
 */
export class SharedExecutions {
  static readonly MAX_SHARED_RESULTS = 1000;
  readonly #results = new Map<string, Promise<ExecutionResult>>();

  constructor(
    private readonly schema: GraphQLSchema,
    private readonly context: RequestContext,
  ) {}

  resultFor(subscriber: Subscriber, event: RealtimeEventRow, cursor: string): Promise<ExecutionResult> {
    const key = `${event.position}\u0000${subscriber.init.executionKey}`;
    const known = this.#results.get(key);
    if (known) return known;
    const root: RealtimeEventParent = { event, cursor };
    const result = Promise.resolve(
      execute({
        schema: this.schema,
        document: subscriber.init.document,
        rootValue: root,
        contextValue: this.context,
        variableValues: subscriber.init.variables,
        operationName: subscriber.init.operationName,
      }),
    );
    if (this.#results.size < SharedExecutions.MAX_SHARED_RESULTS) this.#results.set(key, result);
    return result;
  }
}
