import { execute } from 'graphql';
import { sql } from 'kysely';
import type { RequestContext } from '../../src/graphql/request-context.js';
import { createLoaders } from '../../src/modules/index.js';
import type { RealtimeEventParent, RealtimeEventRow } from '../../src/modules/realtime/rows.js';
import { createRequestTelemetry } from '../../src/observability/request-telemetry.js';
import { encodeEventCursor } from '../../src/realtime/event-cursor.js';
import type { Feed, WakeSource } from '../../src/realtime/realtime-hub.js';
import type { Subscriber } from '../../src/realtime/subscriber.js';
import type { TenantFeedSettings } from '../../src/realtime/tenant-feed.js';
import { beginTenantTransaction, commitOrRollBack, type TenantTransaction } from '../../src/tenancy/tenant-transaction.js';

/**
 * The benchmark's naive realtime baseline (issue 12 §4): ONE RLS transaction per subscriber per event, the way
 * PostGraphile 5 (a transaction per subscriber per event, with the subscriber's settings) and Supabase Realtime
 * (an RLS read per subscriber per change) deliver. Each subscriber is served on its own: its transaction enters
 * the tenant AS the subscriber (the prologue checks its membership), reads the next event of its subscription
 * after its position, and executes its document with loaders bound to that transaction (so the message and its
 * author are read as a query of that subscriber would read them), then commits.
 *
 * It is given every advantage the product's feed has except batching: the same wake-ups (in process and LISTEN;
 * not the polling safety net, which the per-subscriber designs do not have), the same pool, documents and
 * loaders, only the events of its own subscription (a conversation's subscriber never pays for another
 * conversation's events), and the same fair share of the pool per tenant (without it, its transactions would
 * take the writers' connections). Not part of the product: bench/api-server.ts plugs it in through
 * startServer's `realtimeFeed`.
 */
export class PerSubscriberFeed implements Feed {
  readonly subscribers = new Set<Subscriber>();
  readonly #running = new Map<Subscriber, Promise<void>>();
  /** Subscribers woken while their loop ran: they look once more when it ends. */
  readonly #again = new Set<Subscriber>();
  #closed = false;

  constructor(
    readonly tenantId: string,
    private readonly settings: TenantFeedSettings,
  ) {}

  wake(source: WakeSource): void {
    // The per-subscriber designs have no polling safety net (PostGraphile relies on LISTEN alone); polling every
    // subscriber with a transaction of its own would cost the baseline more than its design does.
    if (this.#closed || source === 'poll') return;
    for (const subscriber of this.subscribers) this.#serve(subscriber);
  }

  async settle(): Promise<void> {
    this.#closed = true;
    await Promise.all(this.#running.values());
  }

  #serve(subscriber: Subscriber): void {
    if (this.#running.has(subscriber)) {
      this.#again.add(subscriber);
      return;
    }
    const loop = (async () => {
      do {
        this.#again.delete(subscriber);
        // One event per transaction, until the subscriber has every event committed so far.
        while (!this.#closed && (await this.#deliverNext(subscriber)));
      } while (this.#again.has(subscriber) && !this.#closed);
    })().finally(() => this.#running.delete(subscriber));
    this.#running.set(subscriber, loop);
  }

  /** One transaction: the subscriber's next event, delivered. True when another one is waiting for it. */
  async #deliverNext(subscriber: Subscriber): Promise<boolean> {
    if (subscriber.ended || subscriber.full || !this.subscribers.has(subscriber)) return false;
    let statements = 0;
    const { database, idleInTransactionTimeoutMs, schema, admission } = this.settings;
    let permit: { release(): void } | undefined;
    try {
      // The same fair share of the pool as the product's batches (and requests): without it the baseline's
      // transactions would take the writers' connections, and the run would measure refused writes.
      const limits = admission ? await admission.limitsOf(this.tenantId) : undefined;
      const statementTimeoutMs = Math.min(this.settings.statementTimeoutMs, limits?.statementTimeoutMs ?? Infinity);
      permit = admission && limits ? await admission.admit(this.tenantId, limits, new AbortController().signal) : undefined;
      const tx = await beginTenantTransaction(
        database,
        { tenantId: this.tenantId, userId: subscriber.userId },
        { readOnly: true, statementTimeoutMs, idleInTransactionTimeoutMs },
        () => statements++,
      );
      const more = await commitOrRollBack(tx, async () => {
        const [event, next] = await nextEventsOf(tx, subscriber);
        if (!event) return false;
        subscriber.position = BigInt(event.position);
        const root: RealtimeEventParent = { event, cursor: encodeEventCursor(this.tenantId, event.position) };
        const result = await execute({
          schema,
          document: subscriber.init.document,
          rootValue: root,
          contextValue: subscriberContext(subscriber, tx),
          variableValues: subscriber.init.variables,
          operationName: subscriber.init.operationName,
        });
        return subscriber.push(result, event.occurred_at) && next !== undefined;
      });
      this.settings.onBatch('ok', statements);
      return more;
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      // The prologue refused the subscriber: no longer a member (or the tenant is gone), or suspended.
      if (code === 'TG002') this.settings.onNotMember(subscriber);
      else if (code === 'TG004') this.settings.onTenantSuspended(subscriber);
      else this.settings.onBatch('failed', statements, error);
      return false;
    } finally {
      permit?.release();
    }
  }
}

/**
 * The subscriber's next two events after its position (messages of its conversation, or conversation changes):
 * the one to deliver, and whether there is another (so a caught-up subscriber costs no empty transaction).
 */
async function nextEventsOf(tx: TenantTransaction, subscriber: Subscriber): Promise<RealtimeEventRow[]> {
  const filter =
    subscriber.init.field === 'messagePosted'
      ? sql`e.kind = 'MESSAGE_POSTED' and e.conversation_id = ${subscriber.init.conversationId}::uuid`
      : sql`e.kind <> 'MESSAGE_POSTED'`;
  const { rows } = await sql<RealtimeEventRow>`
    select e.tenant_id::text as tenant_id, e.position::text as position, e.kind, e.conversation_id, e.message_id,
           e.occurred_at::text as occurred_at
      from realtime_events e
     where e.position > ${subscriber.position.toString()}::bigint and ${filter}
     order by e.position limit 2`.execute(tx);
  return rows;
}

function subscriberContext(subscriber: Subscriber, tx: TenantTransaction): RequestContext {
  return {
    requestId: subscriber.init.requestId,
    principal: subscriber.init.principal,
    transaction: null,
    tx: () => Promise.resolve(tx),
    loaders: createLoaders(() => Promise.resolve(tx)),
    telemetry: createRequestTelemetry(),
  };
}
