import { AsyncLocalStorage } from 'node:async_hooks';
import type pg from 'pg';

/**
 * Lets the code that begins a transaction learn which `pg` client Kysely checked out for it, so a request
 * deadline can cancel that client's running statement (src/db/cancel-request.ts). Kysely keeps the client
 * private; this wraps the pool Kysely is given and, inside {@link withClientCapture}, hands the client it gives
 * out to the caller's slot. AsyncLocalStorage, not a pool event: a client released by one request and handed to
 * a waiter is emitted in the releaser's async context, while the continuation after `await pool.connect()`
 * runs in the acquirer's.
 */
const slots = new AsyncLocalStorage<{ client?: pg.PoolClient }>();

/** The pool as Kysely's PostgresDialect sees it: the real pool, with capture on connect. */
export function capturingPool(pool: pg.Pool): { connect(): Promise<pg.PoolClient>; end(): Promise<void> } {
  return {
    async connect() {
      const client = await pool.connect();
      const slot = slots.getStore();
      if (slot && !slot.client) slot.client = client;
      return client;
    },
    end: () => pool.end(),
  };
}

/** Runs `work`; `slot.client` is the first client the capturing pool handed out inside it (if any). */
export async function withClientCapture<T>(work: () => Promise<T>): Promise<{ result: T; client: pg.PoolClient | undefined }> {
  const slot: { client?: pg.PoolClient } = {};
  const result = await slots.run(slot, work);
  return { result, client: slot.client };
}
