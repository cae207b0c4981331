import type { DocumentNode, ExecutionResult } from 'graphql';
import type { Principal } from '../auth/token-verifier.js';
import type { RealtimeEventRow } from '../modules/realtime/rows.js';
import type { SubscriptionEndReason } from '../observability/realtime-metrics.js';

/** The two subscription root fields of schema/realtime.graphql. */
export type SubscriptionField = 'messagePosted' | 'conversationChanged';

export interface SubscriberInit {
  /** For logs and the audit trail: the socket's request id and the graphql-ws subscription id. */
  readonly requestId: string;
  readonly principal: Principal;
  readonly field: SubscriptionField;
  /** messagePosted: the conversation's local id; conversationChanged: null. */
  readonly conversationId: string | null;
  /** The last event position this subscriber has (or needs not) receive: events after it are delivered. */
  readonly position: bigint;
  readonly document: DocumentNode;
  readonly operationName: string | null;
  readonly variables: Record<string, unknown>;
  /**
   * Subscribers of one tenant with equal keys receive equal payloads for an event (the same document text,
   * operation and coerced variables): a batch executes the document once per event for all of them.
   */
  readonly executionKey: string;
  /** Bounds of the queue between the fan-out and the socket (REALTIME_QUEUE_MAX_*). */
  readonly maxQueuedEvents: number;
  readonly maxQueuedBytes: number;
  /** Told once when the subscriber ends, with why (the hub unregisters it, audits and counts it). */
  readonly onEnd: (subscriber: Subscriber, reason: SubscriptionEndReason) => void;
  /** Told when a result is handed to graphql-ws, with the event's record time (commit-to-send latency). */
  readonly onHandOver: (recordedAt: string) => void;
  /** Told when a full queue has room again: the feed goes on from this subscriber's position. */
  readonly onRoom: (subscriber: Subscriber) => void;
}

interface Queued {
  readonly result: ExecutionResult;
  readonly bytes: number;
  readonly recordedAt: string;
}

/**
 * One subscription: its position in its tenant's event stream, and the bounded queue between the tenant's
 * fan-out batches (which push executed results) and graphql-ws (which pulls them with `next()` and sends each
 * before it pulls the next one, so a slow socket shows up here as a growing queue).
 *
 * SECURITY (memory): the queue holds at most `maxQueuedEvents` results and `maxQueuedBytes` bytes of JSON (plus
 * the one result that crossed the byte bound). A full subscriber gets nothing more from its tenant's batches, and
 * its position stays where its queue ends: the events wait in the table, not in memory, and the feed goes on from
 * there once the socket has taken some (`onRoom`). A subscriber that stays full longer than the slow-consumer
 * timeout is ended by the hub ('slow_consumer', socket closed with 4413); the client resumes with its last cursor.
 *
 * It is its own AsyncIterator (not an async generator) so that `return()` from graphql-ws (the client completed,
 * the socket closed) takes effect at once, even while `next()` is waiting for an event.
 */
export class Subscriber implements AsyncIterableIterator<ExecutionResult> {
  position: bigint;
  delivered = 0;
  readonly startedAt = new Date();
  readonly startedMs = performance.now();
  #queue: Queued[] = [];
  #bytes = 0;
  #waiter: { resolve: (result: IteratorResult<ExecutionResult>) => void; reject: (error: unknown) => void } | undefined;
  #failure: Error | undefined;
  #ended: SubscriptionEndReason | undefined;

  constructor(readonly init: SubscriberInit) {
    this.position = init.position;
  }

  get tenantId(): string {
    return this.init.principal.tenantId;
  }

  get userId(): string {
    return this.init.principal.userId;
  }

  /** Results waiting for the socket. */
  get queued(): number {
    return this.#queue.length;
  }

  get ended(): boolean {
    return this.#ended !== undefined;
  }

  /** Whether this subscription delivers the event (the position advances past every event either way). */
  matches(event: RealtimeEventRow): boolean {
    if (this.init.field === 'messagePosted') return event.kind === 'MESSAGE_POSTED' && event.conversation_id === this.init.conversationId;
    return event.kind !== 'MESSAGE_POSTED';
  }

  /** No room for another result: the feed skips this subscriber until `onRoom`. */
  get full(): boolean {
    return this.#queue.length >= this.init.maxQueuedEvents || this.#bytes >= this.init.maxQueuedBytes;
  }

  /** Since when the queue has been full (performance.now()), or undefined. */
  fullSince: number | undefined;

  /** Queues a result (the caller checked `full` first); false when the subscriber has ended. */
  push(result: ExecutionResult, recordedAt: string): boolean {
    if (this.#ended) return false;
    const waiter = this.#waiter;
    if (waiter) {
      this.#waiter = undefined;
      this.#handOver(recordedAt);
      waiter.resolve({ value: result, done: false });
    } else {
      // Sized only when it waits in the queue (graphql-ws serialises it again to send it; a result handed over
      // at once is never measured).
      const bytes = Buffer.byteLength(JSON.stringify(result));
      this.#queue.push({ result, bytes, recordedAt });
      this.#bytes += bytes;
      if (this.full) this.fullSince ??= performance.now();
    }
    return true;
  }

  /** Ends the subscription with an error the client receives (graphql-ws `error` message, code in extensions). */
  fail(error: Error, reason: SubscriptionEndReason): void {
    if (this.#ended) return;
    this.#failure = error;
    this.#finish(reason);
    const waiter = this.#waiter;
    if (waiter && this.#queue.length === 0) {
      this.#waiter = undefined;
      this.#failure = undefined;
      waiter.reject(error);
    }
  }

  /** Ends the subscription; queued results are dropped. Idempotent. */
  end(reason: SubscriptionEndReason): void {
    if (this.#ended) return;
    this.#queue = [];
    this.#bytes = 0;
    this.#finish(reason);
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.resolve({ value: undefined, done: true });
  }

  #finish(reason: SubscriptionEndReason): void {
    this.#ended = reason;
    this.init.onEnd(this, reason);
  }

  #handOver(recordedAt: string): void {
    this.delivered++;
    this.init.onHandOver(recordedAt);
  }

  next(): Promise<IteratorResult<ExecutionResult>> {
    const wasFull = this.full;
    const queued = this.#queue.shift();
    if (queued) {
      this.#bytes -= queued.bytes;
      this.#handOver(queued.recordedAt);
      if (wasFull && !this.full) {
        this.fullSince = undefined;
        this.init.onRoom(this);
      }
      return Promise.resolve({ value: queued.result, done: false });
    }
    if (this.#failure) {
      const failure = this.#failure;
      this.#failure = undefined;
      return Promise.reject(failure);
    }
    if (this.#ended) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => (this.#waiter = { resolve, reject }));
  }

  return(): Promise<IteratorResult<ExecutionResult>> {
    this.end('completed');
    return Promise.resolve({ value: undefined, done: true });
  }

  throw(error?: unknown): Promise<IteratorResult<ExecutionResult>> {
    this.end('completed');
    return Promise.reject(error instanceof Error ? error : new Error(String(error)));
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}
