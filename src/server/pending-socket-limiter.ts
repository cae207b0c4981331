import type { PendingSocketRefusal } from '../observability/realtime-metrics.js';

export interface PendingSocketLimits {
  /** Sockets of one address (client-address.ts) that have not completed `connection_init` yet. */
  readonly perAddress: number;
  /** Such sockets on this server, over all addresses. */
  readonly total: number;
}

/** A held slot: `release()` gives it back; calling it again does nothing, so every path may call it. */
export interface PendingSlot {
  release(): void;
}

/**
 * Bounds the WebSockets that are not authenticated yet (issue 12 §1: "nothing a subscriber does can grow the
 * server's memory without bound"). Such a socket costs a file descriptor, ws' buffers and graphql-ws' init timer
 * for up to the init timeout, and before its `connection_init` nothing is known about it but its address — so
 * it is bounded per address, like the HTTP path's tokenless requests, and in total, so that many addresses
 * together cannot exhaust the server's descriptors either.
 *
 * A slot is taken before the upgrade is accepted and released once, on whichever comes first: the init is
 * acknowledged (an authenticated socket is bounded per tenant instead), or the connection closes (a refused
 * init, the init timeout, a client that went away, a failed handshake).
 * Memory: one map entry per address with a pending socket, removed when its last one is released.
 */
export class PendingSocketLimiter {
  readonly #perAddress = new Map<string, number>();
  #total = 0;

  constructor(readonly limits: PendingSocketLimits) {}

  /** Takes a slot for `address`, or says which bound is full. */
  acquire(address: string): PendingSlot | PendingSocketRefusal {
    const held = this.#perAddress.get(address) ?? 0;
    if (held >= this.limits.perAddress) return 'per_address';
    if (this.#total >= this.limits.total) return 'total';
    this.#perAddress.set(address, held + 1);
    this.#total++;
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        this.#total--;
        const left = this.#perAddress.get(address)! - 1;
        if (left === 0) this.#perAddress.delete(address);
        else this.#perAddress.set(address, left);
      },
    };
  }

  /** Sockets holding a slot now. */
  get pending(): number {
    return this.#total;
  }

  /** Addresses holding a slot now (0 once every pending socket was released). */
  get addresses(): number {
    return this.#perAddress.size;
  }
}
