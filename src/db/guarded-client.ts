import pg from 'pg';

/** Hears about a connection that died: the server logs and counts it; tools ignore it (the query in flight rejects anyway). */
export type ConnectionErrorListener = (error: Error) => void;

const ignore: ConnectionErrorListener = () => {};

/**
 * A `pg.Client` class whose instances have an `'error'` listener for their whole life, from construction to `end()`.
 *
 * Why: `pg.Client` is an EventEmitter, and an `'error'` event nobody listens to throws and ends the process.
 * pg-pool listens only while a client is idle in the pool; a connection that died while checked out (between two
 * statements of a request: PostgreSQL restarting, `pg_terminate_backend`, PgBouncer restarting) emitted an unheard
 * `'error'` and crashed the server for every tenant. With the listener the death is only reported: the query in
 * flight (if any) still rejects with the error, later queries reject with "not queryable", and pg-pool discards
 * the client when it is released (it drops clients that are no longer queryable).
 *
 * Every connection the product opens is guarded: pooled ones through `createPool` (pg-pool's `Client` option),
 * single ones through `connectClient`.
 */
export function guardedClientClass(onError: ConnectionErrorListener = ignore): typeof pg.Client {
  return class GuardedClient extends pg.Client {
    constructor(config?: string | pg.ClientConfig) {
      super(config);
      this.on('error', onError);
    }
  };
}

/** A guarded client class whose deaths are only swallowed (tools; their query in flight rejects anyway). */
export const GuardedClient = guardedClientClass();

/** A connected single (unpooled) client, guarded as above. Rejects when the connection cannot be made. */
export async function connectClient(config: pg.ClientConfig, onError?: ConnectionErrorListener): Promise<pg.Client> {
  const Client = onError ? guardedClientClass(onError) : GuardedClient;
  const client = new Client(config);
  try {
    await client.connect();
  } catch (error) {
    await client.end().catch(() => {});
    throw error;
  }
  return client;
}
