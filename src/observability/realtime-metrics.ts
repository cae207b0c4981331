import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { WAKE_TRANSPORTS } from '../realtime/wake-transport.js';

/** Why a subscriber stopped receiving: a closed set, so it can label a metric. */
export type SubscriptionEndReason = 'completed' | 'token_expired' | 'slow_consumer' | 'not_member' | 'suspended' | 'cursor_expired' | 'shutdown';
export const SUBSCRIPTION_END_REASONS: readonly SubscriptionEndReason[] = [
  'completed',
  'token_expired',
  'slow_consumer',
  'not_member',
  'suspended',
  'cursor_expired',
  'shutdown',
];

/** Which bound refused a WebSocket that had not completed connection_init yet (server/pending-socket-limiter.ts). */
export type PendingSocketRefusal = 'per_address' | 'total';
export const PENDING_SOCKET_REFUSALS: readonly PendingSocketRefusal[] = ['per_address', 'total'];

/**
 * Realtime on /metrics (issue 12 §2). No tenant label anywhere: a label per tenant would let the number of
 * series grow with the tenants, and /metrics is read by operators of all tenants.
 */
export class RealtimeMetrics {
  readonly sockets: Gauge;
  readonly pendingSockets: Gauge;
  readonly socketsRefused: Counter<'bound'>;
  readonly subscriptions: Gauge;
  readonly subscriptionsEnded: Counter<'reason'>;
  readonly eventsDelivered: Counter;
  readonly batches: Counter<'outcome'>;
  readonly batchStatements: Histogram;
  readonly commitToSend: Histogram;
  readonly slowConsumersDropped: Counter;
  readonly wakeups: Counter<'source'>;
  readonly listenerReconnects: Counter<'transport'>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.sockets = new Gauge({ name: 'tenantgraph_realtime_sockets', help: 'Open GraphQL WebSockets (acknowledged connections).', registers });
    this.pendingSockets = new Gauge({
      name: 'tenantgraph_realtime_pending_sockets',
      help: 'WebSockets accepted that have not completed connection_init yet.',
      registers,
    });
    this.socketsRefused = new Counter({
      name: 'tenantgraph_realtime_sockets_refused_total',
      help: 'WebSocket upgrades refused with 429 because too many sockets were pending connection_init, by the bound that was full (per address, total).',
      labelNames: ['bound'] as const,
      registers,
    });
    for (const bound of PENDING_SOCKET_REFUSALS) this.socketsRefused.inc({ bound }, 0);
    this.subscriptions = new Gauge({ name: 'tenantgraph_realtime_subscriptions', help: 'Active subscriptions on this server.', registers });
    this.subscriptionsEnded = new Counter({
      name: 'tenantgraph_realtime_subscriptions_ended_total',
      help: 'Subscriptions that ended, by reason.',
      labelNames: ['reason'] as const,
      registers,
    });
    for (const reason of SUBSCRIPTION_END_REASONS) this.subscriptionsEnded.inc({ reason }, 0);
    this.eventsDelivered = new Counter({
      name: 'tenantgraph_realtime_events_delivered_total',
      help: 'Subscription events handed to subscribers (one per subscriber per event).',
      registers,
    });
    this.batches = new Counter({
      name: 'tenantgraph_realtime_batches_total',
      help: 'Fan-out batches (one tenant transaction each), by outcome.',
      labelNames: ['outcome'] as const,
      registers,
    });
    for (const outcome of ['ok', 'failed']) this.batches.inc({ outcome }, 0);
    this.batchStatements = new Histogram({
      name: 'tenantgraph_realtime_batch_statements',
      help: 'SQL statements (round trips) per fan-out batch, prologue and COMMIT included.',
      buckets: [1, 2, 3, 4, 5, 8, 13, 21],
      registers,
    });
    this.commitToSend = new Histogram({
      name: 'tenantgraph_realtime_commit_to_send_seconds',
      help: "From an event's record time in the writer's transaction (database clock) to its hand-over to the subscriber's socket.",
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.slowConsumersDropped = new Counter({
      name: 'tenantgraph_realtime_slow_consumers_dropped_total',
      help: 'WebSockets closed because a subscriber queue exceeded its event or byte bound.',
      registers,
    });
    this.wakeups = new Counter({
      name: 'tenantgraph_realtime_wakeups_total',
      help: "Tenant wake-ups of the fan-out, by source (this process, another replica's wake-up over PostgreSQL or Redis, the polling safety net).",
      labelNames: ['source'] as const,
      registers,
    });
    for (const source of ['local', 'notification', 'poll']) this.wakeups.inc({ source }, 0);
    this.listenerReconnects = new Counter({
      name: 'tenantgraph_realtime_listener_reconnects_total',
      help: 'Times a wake-up connection (PostgreSQL LISTEN, Redis subscriber) was lost and opened again (every local tenant is re-read after each), by transport.',
      labelNames: ['transport'] as const,
      registers,
    });
    for (const transport of WAKE_TRANSPORTS) this.listenerReconnects.inc({ transport }, 0);
  }
}
