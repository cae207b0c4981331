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

/** The client as Kysely uses it: `query` and `release` only (kysely/dist/esm/dialect/postgres/postgres-driver.js). */
export interface KyselyClient {
  query: pg.PoolClient['query'];
  release: pg.PoolClient['release'];
}

/** One stable view per client: Kysely keys its connection objects by the client it was handed. */
const views = new WeakMap<pg.PoolClient, KyselyClient>();

/**
 * The pool as Kysely's PostgresDialect sees it: the real pool, with capture on connect, and clients whose
 * multi-statement queries report their last statement's result. pg answers a simple-protocol string of several
 * statements with an array of results, which Kysely reads as no rows; the tenant prologue
 * (`start transaction …; select * from app.enter_tenant(…)`) needs its second statement's rows, the ids it entered,
 * within its one round trip. Single statements and cursors pass through unchanged.
 */
export function capturingPool(pool: pg.Pool): { connect(): Promise<KyselyClient>; end(): Promise<void> } {
  return {
    async connect() {
      const client = await pool.connect();
      const slot = slots.getStore();
      if (slot && !slot.client) slot.client = client;
      let view = views.get(client);
      if (!view) {
        view = {
          query: ((...args: unknown[]) => {
            const result: unknown = (client.query as (...a: unknown[]) => unknown)(...args);
            return result instanceof Promise ? result.then((value: unknown) => (Array.isArray(value) ? value.at(-1) : value)) : result;
          }) as pg.PoolClient['query'],
          // Looked up on every call: a request deadline replaces the client's release (discardOnRelease).
          release: (error?: Error | boolean) => client.release(error),
        };
        views.set(client, view);
      }
      return view;
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
