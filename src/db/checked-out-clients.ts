import type pg from 'pg';

export interface CheckedOutClients {
  /** Connections handed out by the pool and not yet given back. */
  readonly size: number;
  /**
   * Closes every checked-out connection at once (pg's `client.end()` destroys the socket when a query is running).
   * PostgreSQL rolls back the open transaction of a connection that goes away; the query in flight fails in the
   * caller, which gives the client back, and an ending pool then discards it. For shutdown only.
   */
  closeAll(): Promise<void>;
}

/** Follows a pool's acquire / release events; pg-pool keeps no public list of the clients it handed out. */
export function trackCheckedOutClients(pool: pg.Pool): CheckedOutClients {
  const clients = new Set<pg.PoolClient>();
  pool.on('acquire', (client) => clients.add(client));
  pool.on('release', (_error: Error | undefined, client: pg.PoolClient) => clients.delete(client));
  pool.on('remove', (client) => clients.delete(client as pg.PoolClient));
  return {
    get size() {
      return clients.size;
    },
    async closeAll() {
      await Promise.all([...clients].map((client) => (client as unknown as pg.Client).end().catch(() => {})));
    },
  };
}
