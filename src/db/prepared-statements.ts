import pg from 'pg';

/** DATABASE_PREPARED_STATEMENTS: named (prepared) statements per connection, never, or decided from the URL. */
export type PreparedStatementsSetting = 'on' | 'off' | 'auto';

/** How many statements one connection keeps prepared when nothing else is said: the API sends a few dozen shapes. */
export const DEFAULT_PREPARED_STATEMENTS_PER_CONNECTION = 100;

/**
 * Whether connections to `url` may use named statements. `auto` says yes for a direct connection and no when
 * the URL points at a connection pooler: PgBouncer in transaction mode hands each transaction any server
 * connection, and before 1.21 (`max_prepared_statements`; Debian 12 ships 1.18) a statement prepared on one is
 * missing on the next ("prepared statement … does not exist"). The hints: the query parameter `pgbouncer=true`
 * (the convention Prisma uses; pg ignores unknown parameters), a host name containing `pgbouncer` or `pooler`
 * (managed poolers name their endpoints so), or port 6432 (PgBouncer's default). A pooler the hints miss needs
 * DATABASE_PREPARED_STATEMENTS=off; one that supports prepared statements may be given `on`.
 */
export function usePreparedStatements(setting: PreparedStatementsSetting, url: string): boolean {
  if (setting !== 'auto') return setting === 'on';
  return !pointsAtPooler(url);
}

export function pointsAtPooler(url: string): boolean {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return false;
  }
  const hint = parsed.searchParams.get('pgbouncer');
  if (hint !== null) return hint !== 'false' && hint !== '0';
  return /pgbouncer|pooler/i.test(parsed.hostname) || parsed.port === '6432';
}

/** pg's internal bookkeeping of the named statements of a connection (pg 8.23: parsed, and sent but not yet parsed). */
interface ConnectionInternals {
  parsedStatements?: Record<string, string>;
  submittedNamedStatements?: Record<string, string>;
}

/**
 * A `pg.Client` class that sends every parameterised statement (`query(text, values)` with at least one value:
 * what Kysely sends for its compiled queries) as a named statement, so PostgreSQL parses and plans it once per
 * connection instead of once per execution. Statements without values (the transaction prologue, COMMIT,
 * multi-statement strings) stay on the simple protocol, which a named statement cannot carry.
 *
 * Memory stays bounded: each connection keeps at most `maxPerConnection` names, least recently used first out.
 * Names are never reused (`tg1`, `tg2`, … per connection), so an evicted name can be freed later without any
 * risk of meeting a new statement of the same name. It is freed (DEALLOCATE) when the connection goes back to
 * the pool, outside any transaction — see `deallocateEvicted` — so a request's transaction never sees it.
 *
 * SECURITY: a prepared statement carries no tenant. The tenant is read from the transaction-local setting by
 * the RLS policies' STABLE function at every execution, also under a generic plan (test/rls/generic-plan.test.ts).
 */
export function preparingClientClass(Base: typeof pg.Client, maxPerConnection: number): typeof pg.Client {
  if (!Number.isSafeInteger(maxPerConnection) || maxPerConnection < 1) {
    throw new RangeError(`Prepared statements per connection must be a positive integer, received ${maxPerConnection}`);
  }
  class PreparingClient extends Base {
    /** SQL text -> statement name, in least-recently-used order (a Map iterates in insertion order). */
    readonly #names = new Map<string, string>();
    #evicted: string[] = [];
    #next = 0;

    override query(...args: unknown[]): never {
      const [text, values, callback] = args;
      if (typeof text === 'string' && Array.isArray(values) && values.length > 0 && callback === undefined) {
        return super.query({ name: this.#nameOf(text), text, values } as pg.QueryConfig) as never;
      }
      return (super.query as (...a: unknown[]) => unknown).apply(this, args) as never;
    }

    /** How `query(text, values)` would send the statement; for a statement carried with a deferred prologue (pipelined-prologue.ts). */
    statementConfig(text: string, values: readonly unknown[]): { text: string; values: readonly unknown[]; name?: string } {
      return values.length > 0 ? { name: this.#nameOf(text), text, values } : { text, values };
    }

    #nameOf(text: string): string {
      const known = this.#names.get(text);
      if (known !== undefined) {
        this.#names.delete(text);
        this.#names.set(text, known);
        return known;
      }
      const name = `tg${++this.#next}`;
      this.#names.set(text, name);
      if (this.#names.size > maxPerConnection) {
        const [oldestText, oldestName] = this.#names.entries().next().value as [string, string];
        this.#names.delete(oldestText);
        // Only a statement the server has (parsed, or its Parse on the way) needs freeing; one whose Parse failed
        // (e.g. sent in an aborted transaction) does not exist there.
        const connection = this.#internals();
        if (connection.parsedStatements?.[oldestName] !== undefined || connection.submittedNamedStatements?.[oldestName] !== undefined) {
          this.#evicted.push(oldestName);
        }
      }
      return name;
    }

    /** Names currently prepared through this client (for tests and metrics). */
    get preparedStatementCount(): number {
      return this.#names.size;
    }

    /**
     * Frees the server side of evicted statements. Call only when no transaction is open on the connection (the
     * pool's `release`): DEALLOCATE is not transactional and fails in an aborted transaction. Queued on the
     * client like any query, so a request that checks the connection out next waits for it. A failure (the
     * connection died) is ignored: the pool discards such a connection anyway.
     */
    deallocateEvicted(): void {
      if (!this.#evicted.length) return;
      const names = this.#evicted;
      this.#evicted = [];
      const connection = this.#internals();
      for (const name of names) {
        // pg would otherwise keep its record of the statement for the connection's life.
        delete connection.parsedStatements?.[name];
        // One statement each: a failing DEALLOCATE must not keep the others from running.
        super.query(`deallocate "${name}"`).catch(() => {});
      }
    }

    #internals(): ConnectionInternals {
      return (this as unknown as { connection: ConnectionInternals }).connection;
    }
  }
  return PreparingClient as unknown as typeof pg.Client;
}

/** Frees evicted prepared statements of a client returned to `pool` (no-op for clients that prepare nothing). */
export function deallocateEvictedOnRelease(pool: pg.Pool): void {
  pool.on('release', (error: Error | undefined, client: pg.PoolClient) => {
    if (!error) (client as unknown as { deallocateEvicted?: () => void }).deallocateEvicted?.();
  });
}
