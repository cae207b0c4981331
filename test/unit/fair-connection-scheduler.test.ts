import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { defaultShare, FairConnectionScheduler, FairShareTimeoutError, type Permit } from '../../src/tenancy/fair-connection-scheduler.js';

// Pure and deterministic: permits are granted synchronously inside acquire()/release(), so after each step the
// test can read exactly who was served. Deadlines use vitest's fake timers (no real waiting).

/** Acquires and records when the permit arrives, under a label. */
function track(
  scheduler: FairConnectionScheduler,
  served: string[],
  key: string,
  label: string,
  share: number,
  timeoutMs = 60_000,
  signal?: AbortSignal,
) {
  const entry: { permit?: Permit; error?: unknown } = {};
  const promise = scheduler.acquire(key, { share, timeoutMs, ...(signal ? { signal } : {}) }).then(
    (permit) => {
      served.push(label);
      entry.permit = permit;
    },
    (error: unknown) => {
      entry.error = error;
    },
  );
  return Object.assign(entry, { settled: promise });
}

/** Lets promise callbacks run (grants resolve promises; `.then` runs on the microtask queue). */
const flush = () => new Promise<void>((resolve) => queueMicrotask(() => setImmediate(resolve)));

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('FairConnectionScheduler', () => {
  it('serves waiters round-robin across tenants, not in arrival order, and FIFO within a tenant', async () => {
    const scheduler = new FairConnectionScheduler({ capacity: 2 });
    const served: string[] = [];
    // Tenant a floods first: 2 running, then 4 more queued; b and c arrive after the flood.
    const a = ['a1', 'a2', 'a3', 'a4', 'a5', 'a6'].map((label) => track(scheduler, served, 'a', label, 2));
    const b = ['b1', 'b2'].map((label) => track(scheduler, served, 'b', label, 2));
    const c = [track(scheduler, served, 'c', 'c1', 2)];
    await flush();
    expect(served).toEqual(['a1', 'a2']);
    expect(scheduler.stats()).toEqual({ inUse: 2, waiting: 7, held: { a: 2 } });

    // Each release gives the slot to the next tenant in turn: a's queued flood waits behind b and c.
    const order = [a[0]!, a[1]!, b[0]!, c[0]!, a[2]!, b[1]!, a[3]!, a[4]!, a[5]!];
    for (const entry of order) {
      entry.permit!.release();
      await flush();
    }
    expect(served).toEqual(['a1', 'a2', 'a3', 'b1', 'c1', 'a4', 'b2', 'a5', 'a6']);
    expect(scheduler.stats()).toEqual({ inUse: 0, waiting: 0, held: {} });
  });

  it('keeps a tenant at its share while slots are free, and gives those slots to others', async () => {
    const scheduler = new FairConnectionScheduler({ capacity: 4 });
    const served: string[] = [];
    const a = ['a1', 'a2', 'a3'].map((label) => track(scheduler, served, 'a', label, 1));
    await flush();
    expect(served).toEqual(['a1']);
    expect(scheduler.stats()).toEqual({ inUse: 1, waiting: 2, held: { a: 1 } });
    const b = track(scheduler, served, 'b', 'b1', 1);
    await flush();
    // b gets a free slot at once even though a's waiters came first: they wait for a's own permit.
    expect(served).toEqual(['a1', 'b1']);
    a[0]!.permit!.release();
    await flush();
    expect(served).toEqual(['a1', 'b1', 'a2']);
    a[1]!.permit!.release();
    await flush();
    a[2]!.permit!.release();
    b.permit!.release();
    expect(scheduler.stats()).toEqual({ inUse: 0, waiting: 0, held: {} });
  });

  it('fails a waiter with FairShareTimeoutError at its deadline, and serves it never after', async () => {
    const scheduler = new FairConnectionScheduler({ capacity: 1 });
    const served: string[] = [];
    const first = track(scheduler, served, 'a', 'a1', 1);
    const late = track(scheduler, served, 'b', 'b1', 1, 500);
    await flush();
    vi.advanceTimersByTime(499);
    await flush();
    expect(late.error).toBeUndefined();
    vi.advanceTimersByTime(1);
    await late.settled;
    expect(late.error).toBeInstanceOf(FairShareTimeoutError);
    expect((late.error as FairShareTimeoutError).key).toBe('b');
    expect(scheduler.stats()).toEqual({ inUse: 1, waiting: 0, held: { a: 1 } });
    first.permit!.release();
    await flush();
    expect(served).toEqual(['a1']);
    expect(scheduler.stats()).toEqual({ inUse: 0, waiting: 0, held: {} });
  });

  it('removes a waiter whose client went away (abort), with the abort reason, and serves the next one', async () => {
    const scheduler = new FairConnectionScheduler({ capacity: 1 });
    const served: string[] = [];
    const first = track(scheduler, served, 'a', 'a1', 1);
    const gone = new AbortController();
    const abandoned = track(scheduler, served, 'b', 'b1', 1, 60_000, gone.signal);
    const next = track(scheduler, served, 'c', 'c1', 1);
    await flush();
    gone.abort(new Error('client went away'));
    await abandoned.settled;
    expect((abandoned.error as Error).message).toBe('client went away');
    expect(scheduler.stats().waiting).toBe(1);
    first.permit!.release();
    await flush();
    expect(served).toEqual(['a1', 'c1']);
    next.permit!.release();
    expect(scheduler.stats()).toEqual({ inUse: 0, waiting: 0, held: {} });
    // Its timer was cleared with it: advancing past the deadline rejects nothing else.
    expect(vi.getTimerCount()).toBe(0);
  });

  it('rejects at once when the signal is already aborted, granting nothing', async () => {
    const scheduler = new FairConnectionScheduler({ capacity: 1 });
    const gone = new AbortController();
    gone.abort(new Error('already gone'));
    await expect(scheduler.acquire('a', { share: 1, timeoutMs: 100, signal: gone.signal })).rejects.toThrow('already gone');
    expect(scheduler.stats()).toEqual({ inUse: 0, waiting: 0, held: {} });
  });

  it('counts a permit released twice only once (no leaked or doubled slots)', async () => {
    const scheduler = new FairConnectionScheduler({ capacity: 1 });
    const served: string[] = [];
    const first = track(scheduler, served, 'a', 'a1', 1);
    const second = track(scheduler, served, 'a', 'a2', 1);
    const third = track(scheduler, served, 'b', 'b1', 1);
    await flush();
    first.permit!.release();
    first.permit!.release();
    await flush();
    // A double release would have served both a2 and b1 on one slot.
    expect(served).toEqual(['a1', 'a2']);
    expect(scheduler.stats()).toEqual({ inUse: 1, waiting: 1, held: { a: 1 } });
    second.permit!.release();
    await flush();
    third.permit!.release();
    expect(scheduler.stats()).toEqual({ inUse: 0, waiting: 0, held: {} });
  });

  it('caps a share above the capacity at the capacity, and refuses shares below one', async () => {
    const scheduler = new FairConnectionScheduler({ capacity: 2 });
    const served: string[] = [];
    const a = ['a1', 'a2', 'a3'].map((label) => track(scheduler, served, 'a', label, 99));
    await flush();
    expect(served).toEqual(['a1', 'a2']);
    await expect(scheduler.acquire('b', { share: 0, timeoutMs: 10 })).rejects.toThrow('share must be a positive integer, received 0');
    for (const entry of a) {
      entry.permit?.release();
      await flush();
    }
    a[2]!.permit!.release();
    expect(scheduler.stats()).toEqual({ inUse: 0, waiting: 0, held: {} });
  });
});

describe('defaultShare', () => {
  it('is a quarter of the pool, rounded up, at least one', () => {
    expect([1, 2, 4, 5, 10, 16].map(defaultShare)).toEqual([1, 1, 1, 2, 3, 4]);
  });
});
