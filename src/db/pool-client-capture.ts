import type pg from 'pg';

/**
 * Lets the code that begins a transaction learn which `pg` client Kysely checked out for it, so a request
 * deadline can cancel that client's running statement (src/db/cancel-request.ts). Kysely keeps the client
 * private, so the transaction's first statement carries a {@link ClientProbe} as an extra, last parameter: the
 * capturing pool's client view takes it off before the statement reaches pg and writes its own client into it.
 *
 * Why a probe travelling with the statement, not a slot in the async context: an AsyncLocalStorage makes Node
 * 20 run promise hooks for every promise of the process, and a dashboard request creates thousands (its fields'
 * resolvers): that cost ~13 % of the API's CPU per request (README › Performance). A pool event would not do
 * either: a client released by one request and handed to a waiter is emitted in the releaser's context.
 */
export class ClientProbe {
  client: pg.PoolClient | undefined;

  /** Never serialised with the statement's parameters (Kysely's log event carries them). */
  toJSON(): string {
    return '[client probe]';
  }
}

/** The client as Kysely uses it: `query` and `release` only (kysely/dist/esm/dialect/postgres/postgres-driver.js). */
export interface KyselyClient {
  query: pg.PoolClient['query'];
  release: pg.PoolClient['release'];
}

/** One stable view per client: Kysely keys its connection objects by the client it was handed. */
const views = new WeakMap<pg.PoolClient, KyselyClient>();

/**
 * The pool as Kysely's PostgresDialect sees it: the real pool, with clients that fill a {@link ClientProbe}
 * given as a statement's last parameter, and whose multi-statement queries report their last statement's result.
 * pg answers a simple-protocol string of several statements with an array of results, which Kysely reads as no
 * rows; the tenant prologue (`start transaction …; select * from app.enter_tenant(…)`) needs its second
 * statement's rows, the ids it entered, within its one round trip. Single statements and cursors pass through
 * unchanged.
 */
export function capturingPool(pool: pg.Pool): { connect(): Promise<KyselyClient>; end(): Promise<void> } {
  return {
    async connect() {
      const client = await pool.connect();
      let view = views.get(client);
      if (!view) {
        view = {
          query: ((...args: unknown[]) => {
            const values = args[1];
            if (Array.isArray(values) && values.at(-1) instanceof ClientProbe) {
              (values.pop() as ClientProbe).client = client;
            }
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
