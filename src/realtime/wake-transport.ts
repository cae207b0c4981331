import { isValidTenantId } from '../ids/entity-ids.js';

/** The PostgreSQL notification channel of realtime wake-ups, and the default Redis channel (REALTIME_REDIS_CHANNEL). */
export const WAKE_CHANNEL = 'tenantgraph_realtime';
/** A Redis channel name is used in a PSUBSCRIBE pattern (redis-wake-channel.ts): no glob characters, no spaces. */
export const REDIS_CHANNEL_PATTERN = /^[A-Za-z0-9_.:-]+$/;

/** A lost transport connection is retried after RECONNECT_MIN_MS, doubling up to RECONNECT_MAX_MS (both transports). */
export const RECONNECT_MIN_MS = 100;
export const RECONNECT_MAX_MS = 5000;

/** The kinds of wake-up transport (a closed set: it labels a metric). */
export const WAKE_TRANSPORTS = ['postgres', 'redis'] as const;

/** What a wake-up transport reports to the hub (realtime-hub.ts). */
export interface WakeHandlers {
  /** Tenants another replica wrote events for (ids only, validated). */
  readonly onWake: (tenantIds: readonly string[]) => void;
  /** The transport came back after a loss: wake-ups sent meanwhile are gone, so every local tenant is re-read. */
  readonly onReconnect: () => void;
  readonly onError: (error: Error) => void;
}

/**
 * One way wake-ups travel between API replicas (issue 12 §2): PostgreSQL LISTEN/NOTIFY (postgres-wake-channel.ts)
 * or Redis pub/sub (redis-wake-channel.ts). The hub holds a list of them and treats them alike.
 *
 * The contract every transport keeps:
 *  - SECURITY: a wake-up carries tenant ids and nothing else (no row data, no position); a received id only makes
 *    a replica re-read that tenant's events under that tenant's RLS, so a forged one costs a read, never a leak;
 *  - a wake-up is a hint: losing one (connection down, replica restarting) delays an event until the polling
 *    safety net, never loses it, because events are read from the table by position;
 *  - after a lost connection comes back it calls `onReconnect`, so tenants written meanwhile are re-read at once;
 *  - a replica does not wake itself through it: its own commits woke its feeds already.
 */
export interface WakeTransport {
  /** For logs and the reconnect metric's label. */
  readonly name: (typeof WAKE_TRANSPORTS)[number];
  /** Connects; rejects if the first connection fails (a wrong URL should stop the start-up, not pass silently). */
  start(): Promise<void>;
  /** Sends a wake-up for `tenantId` soon, coalesced with others; dropped (covered by polling) while disconnected. */
  notify(tenantId: string): void;
  readonly connected: boolean;
  close(): Promise<void>;
}

/** A transport could not connect at start-up: `npm start` prints the message (what is wrong, what to do) and exits 1. */
export class WakeTransportUnavailable extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/**
 * The wire form of a wake-up, the same on every transport: comma-separated tenant ids, split into payloads of at
 * most `maxBytes` (PostgreSQL's NOTIFY takes less than 8000; ids are at most 19 digits plus a comma).
 */
export function encodeWakePayloads(tenantIds: Iterable<string>, maxBytes: number): string[] {
  const payloads: string[] = [];
  let current = '';
  for (const id of tenantIds) {
    if (current && current.length + 1 + id.length > maxBytes) {
      payloads.push(current);
      current = '';
    }
    current = current ? `${current},${id}` : id;
  }
  if (current) payloads.push(current);
  return payloads;
}

/** The tenant ids of a received payload; anything that is not a tenant id is ignored. */
export function decodeWakePayload(payload: string): string[] {
  return payload.split(',').filter((id) => isValidTenantId(id));
}

/**
 * Collects `notify` calls of one turn of the event loop into one `send` of all their tenant ids, so a burst of
 * commits costs one message, and at most one send runs at a time. A failed send is reported and dropped: the
 * wake-ups in it are covered by polling (the contract above). Returns the `notify` function.
 */
export function coalescingNotifier(send: (tenantIds: string[]) => Promise<void>, onError: (error: Error) => void): (tenantId: string) => void {
  const pending = new Set<string>();
  let flushing = false;
  const flush = async () => {
    try {
      while (pending.size > 0) {
        const ids = [...pending];
        pending.clear();
        await send(ids);
      }
    } catch (error) {
      onError(error instanceof Error ? error : new Error(String(error)));
    } finally {
      pending.clear();
      flushing = false;
    }
  };
  return (tenantId) => {
    pending.add(tenantId);
    if (!flushing) {
      flushing = true;
      setImmediate(() => void flush());
    }
  };
}

/** A URL without its password, for messages and logs. */
export function redactedUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(an unparsable URL)';
  }
}

/** A connection error in one line: its code (ECONNREFUSED, ENOTFOUND, …) and message, of its cause if it wraps one. */
export function connectionProblem(error: unknown): string {
  const cause = (error as { cause?: unknown }).cause ?? error;
  const code = (cause as { code?: unknown }).code;
  const message = cause instanceof Error ? cause.message : String(cause);
  return typeof code === 'string' && !message.includes(code) ? `${code}: ${message}` : message;
}
