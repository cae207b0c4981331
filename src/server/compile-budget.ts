/**
 * A token bucket of milliseconds: how much time the process may spend compiling GraphQL operations
 * (compiled-executor.ts). It refills at `msPerSecond` of wall time, up to `burstMs`; a compilation may start
 * while the balance is positive and is then charged what it took, so the balance goes below zero at most once
 * and compiling takes at most `msPerSecond` per second on average, whatever clients send.
 */
export class CompileBudget {
  #balance: number;
  #updatedAt: number;

  constructor(
    private readonly msPerSecond: number,
    private readonly burstMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.#balance = burstMs;
    this.#updatedAt = now();
  }

  /** `compile()`'s result, its time charged; undefined, without calling it, while the budget is spent. */
  attempt<T>(compile: () => T): T | undefined {
    const now = this.now();
    this.#balance = Math.min(this.burstMs, this.#balance + ((now - this.#updatedAt) * this.msPerSecond) / 1000);
    this.#updatedAt = now;
    if (this.#balance <= 0) return undefined;
    const startedAt = this.now();
    try {
      return compile();
    } finally {
      this.#balance -= this.now() - startedAt;
    }
  }
}
