/**
 * Admission to the shared connection pool, fair across tenants.
 *
 * `pg`'s pool serves waiters first come, first served: a tenant that sends 20 slow requests at once holds every
 * connection, and the next tenant's `viewer` waits behind all of them (issue 8). This scheduler sits in front of
 * the pool and hands out *permits*, one per request transaction:
 *   - at most `capacity` permits exist at once (the pool's slots for tenant work), so the pool's own FIFO queue
 *     is never reached by request transactions;
 *   - each key (tenant) holds at most its `share` of them at once;
 *   - waiters are served round-robin across keys, FIFO within a key: a tenant's flood queues behind itself, and
 *     a tenant that waits gets the next free slot after at most one permit per other waiting tenant.
 *
 * Pure: no I/O, no clock besides the timers it is given, so its tests assert exact serving orders.
 *
 * Contract: every permit is released exactly once (`release()` is idempotent); a waiter that times out or whose
 * signal aborts is removed and never gets a permit; `stats()` counts only live permits and queued waiters.
 */
export interface FairSchedulerOptions {
  /** Permits in total (the pool's connections for tenant work). */
  readonly capacity: number;
  /** Injectable for tests; default the global timers. */
  readonly timers?: { setTimeout: typeof setTimeout; clearTimeout: typeof clearTimeout };
}

export interface AcquireOptions {
  /** The most permits this key may hold at once (≥ 1; capped at the capacity). */
  readonly share: number;
  /** How long to wait for a permit before failing with {@link FairShareTimeoutError}. */
  readonly timeoutMs: number;
  /** Aborting (client gone, request deadline) removes the waiter; the promise rejects with the signal's reason. */
  readonly signal?: AbortSignal;
}

export interface Permit {
  /** Gives the slot back and serves the next waiter. Idempotent. */
  release(): void;
}

/** No permit became free within the waiter's timeout. */
export class FairShareTimeoutError extends Error {
  constructor(
    readonly key: string,
    readonly timeoutMs: number,
    readonly heldByKey: number,
    readonly share: number,
  ) {
    super(`No connection permit for ${key} within ${timeoutMs} ms (it holds ${heldByKey} of its share of ${share})`);
    this.name = 'FairShareTimeoutError';
  }
}

interface Waiter {
  readonly key: string;
  readonly share: number;
  resolve(permit: Permit): void;
  reject(error: unknown): void;
  cleanup(): void;
}

export interface SchedulerStats {
  readonly inUse: number;
  readonly waiting: number;
  /** Live permits per key; keys with none are absent. */
  readonly held: Readonly<Record<string, number>>;
}

export class FairConnectionScheduler {
  readonly capacity: number;
  #inUse = 0;
  readonly #held = new Map<string, number>();
  /** Keys with waiters, in round-robin order; a key goes to the back once served. */
  readonly #queues = new Map<string, Waiter[]>();
  readonly #timers: { setTimeout: typeof setTimeout; clearTimeout: typeof clearTimeout };

  constructor(options: FairSchedulerOptions) {
    if (!Number.isInteger(options.capacity) || options.capacity < 1) {
      throw new RangeError(`capacity must be a positive integer, received ${options.capacity}`);
    }
    this.capacity = options.capacity;
    this.#timers = options.timers ?? { setTimeout, clearTimeout };
  }

  /** Resolves with a permit once `key` is below its share and a slot is free and it is `key`'s turn. */
  acquire(key: string, options: AcquireOptions): Promise<Permit> {
    if (!Number.isInteger(options.share) || options.share < 1) {
      return Promise.reject(new RangeError(`share must be a positive integer, received ${options.share}`));
    }
    if (options.signal?.aborted) return Promise.reject(options.signal.reason);
    const share = Math.min(options.share, this.capacity);
    return new Promise<Permit>((resolve, reject) => {
      const onAbort = () => this.#remove(waiter, options.signal!.reason);
      const timer = this.#timers.setTimeout(
        () => this.#remove(waiter, new FairShareTimeoutError(key, options.timeoutMs, this.#held.get(key) ?? 0, share)),
        options.timeoutMs,
      );
      const waiter: Waiter = {
        key,
        share,
        resolve,
        reject,
        cleanup: () => {
          this.#timers.clearTimeout(timer);
          options.signal?.removeEventListener('abort', onAbort);
        },
      };
      options.signal?.addEventListener('abort', onAbort, { once: true });
      const queue = this.#queues.get(key);
      if (queue) queue.push(waiter);
      else this.#queues.set(key, [waiter]);
      this.#dispatch();
    });
  }

  stats(): SchedulerStats {
    let waiting = 0;
    for (const queue of this.#queues.values()) waiting += queue.length;
    return { inUse: this.#inUse, waiting, held: Object.fromEntries(this.#held) };
  }

  /** Serves waiters while slots are free: the first key in round-robin order that is below its share. */
  #dispatch(): void {
    while (this.#inUse < this.capacity) {
      let served = false;
      for (const [key, queue] of this.#queues) {
        const head = queue[0]!;
        if ((this.#held.get(key) ?? 0) >= head.share) continue;
        queue.shift();
        // Round-robin: the served key moves behind every other waiting key.
        this.#queues.delete(key);
        if (queue.length) this.#queues.set(key, queue);
        head.cleanup();
        head.resolve(this.#grant(key));
        served = true;
        break;
      }
      if (!served) return;
    }
  }

  #grant(key: string): Permit {
    this.#inUse += 1;
    this.#held.set(key, (this.#held.get(key) ?? 0) + 1);
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        this.#inUse -= 1;
        const left = this.#held.get(key)! - 1;
        if (left === 0) this.#held.delete(key);
        else this.#held.set(key, left);
        this.#dispatch();
      },
    };
  }

  #remove(waiter: Waiter, reason: unknown): void {
    const queue = this.#queues.get(waiter.key);
    const index = queue?.indexOf(waiter) ?? -1;
    if (index < 0) return; // already served
    queue!.splice(index, 1);
    if (queue!.length === 0) this.#queues.delete(waiter.key);
    waiter.cleanup();
    waiter.reject(reason);
  }
}

/** The default share of a pool: a quarter of it, at least one connection. */
export function defaultShare(capacity: number): number {
  return Math.max(1, Math.ceil(capacity / 4));
}
