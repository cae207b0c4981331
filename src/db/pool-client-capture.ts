import type pg from 'pg';
import { DeferredPrologue, statementConfigOf } from './pipelined-prologue.js';

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
 *
 * A {@link DeferredPrologue} given as a statement's last parameter (PrologueDriver's begin) is kept instead of
 * sent: the connection's next statement carries it (pipelined-prologue.ts), statements issued meanwhile wait for
 * its outcome, and after a refusal only ROLLBACK goes through.
 */
export function capturingPool(pool: pg.Pool): { connect(): Promise<KyselyClient>; end(): Promise<void> } {
  return {
    async connect() {
      const client = await pool.connect();
      let view = views.get(client);
      if (!view) {
        view = clientView(client);
        views.set(client, view);
      }
      return view;
    },
    end: () => pool.end(),
  };
}

/** What a statement that is not sent answers (Kysely reads command and rows). */
const answered = (command: 'BEGIN' | 'ROLLBACK') => Promise.resolve({ command, rowCount: null, rows: [], fields: [] });

function clientView(client: pg.PoolClient): KyselyClient {
  /** The deferred prologue of the transaction on this connection, until its outcome no longer matters. */
  let deferred: DeferredPrologue | undefined;
  const send = (args: unknown[]): unknown => {
    const result: unknown = (client.query as (...a: unknown[]) => unknown)(...args);
    return result instanceof Promise ? result.then((value: unknown) => (Array.isArray(value) ? value.at(-1) : value)) : result;
  };
  const throughPrologue = (prologue: DeferredPrologue, args: unknown[]): unknown => {
    const [text, values, callback] = args;
    const plain = typeof text === 'string' && callback === undefined && (values === undefined || Array.isArray(values));
    const parameters = (values as unknown[] | undefined) ?? [];
    const rollback = plain && text === 'rollback';
    switch (prologue.state) {
      case 'waiting':
        // Nothing was sent: there is no transaction to roll back.
        if (rollback) {
          deferred = undefined;
          return answered('ROLLBACK');
        }
        // SECURITY: one statement with parameters (what Kysely compiles) or COMMIT goes out with the prologue; a
        // string without parameters may hold several statements, which the extended protocol cannot carry, so the
        // prologue goes first on its own. A cursor cannot wait for it (its object is returned at once): refused.
        if (plain && (parameters.length > 0 || text === 'commit')) return prologue.carry(statementConfigOf(client, text, parameters));
        if (!plain) return refuseStreaming();
        return prologue.sendAlone().then(() => send(args));
      case 'sent':
        if (!plain) return refuseStreaming();
        return prologue.settled().then(
          () => send(args),
          (error: unknown) => {
            if (!rollback) throw error;
            deferred = undefined;
            return send(args);
          },
        );
      case 'entered':
        deferred = undefined;
        return send(args);
      case 'refused':
        // SECURITY: after a refused prologue only ROLLBACK reaches the connection (it cleans an aborted transaction;
        // without one it is a no-op); every other statement fails with the refusal, as it did before it was deferred.
        if (!rollback) return Promise.reject(prologue.error);
        deferred = undefined;
        return send(args);
    }
  };
  return {
    query: ((...args: unknown[]) => {
      const values = args[1];
      const last: unknown = Array.isArray(values) ? values.at(-1) : undefined;
      if (last instanceof ClientProbe) {
        (values as unknown[]).pop();
        last.client = client;
      } else if (last instanceof DeferredPrologue) {
        // The transaction's begin: nothing is sent now; the next statement carries the prologue.
        if (deferred) return Promise.reject(new Error('A deferred prologue is already waiting on this connection'));
        last.attach(client);
        deferred = last;
        return answered('BEGIN');
      }
      return deferred ? throughPrologue(deferred, args) : send(args);
    }) as pg.PoolClient['query'],
    // Looked up on every call: a request deadline replaces the client's release (discardOnRelease).
    release: (error?: Error | boolean) => {
      const prologue = deferred;
      deferred = undefined;
      // SECURITY: a prologue on the wire, or refused and not rolled back, leaves the connection in an unknown
      // state: the pool destroys it instead of handing it to the next request.
      if (!error && prologue && (prologue.state === 'sent' || prologue.state === 'refused')) {
        client.release(new Error('released with its tenant prologue unsettled or not rolled back'));
        return;
      }
      client.release(error);
    },
  };
}

function refuseStreaming(): never {
  throw new Error('A cursor cannot be the first statement of a transaction whose prologue is deferred (pipelined-prologue.ts)');
}
