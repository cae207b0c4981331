import pg from 'pg';

/** What app.enter_tenant returned: the tenant and user a prologue entered. */
export interface EnteredRow {
  readonly enteredTenant: string;
  readonly enteredUser: string | null;
}

/** A statement as pg sends it on the extended protocol: named when the client prepares (prepared-statements.ts). */
export interface StatementConfig {
  readonly text: string;
  readonly values: readonly unknown[];
  readonly name?: string;
}

/**
 * A transaction prologue (`start transaction …`, `select * from app.enter_tenant(…)`, each one statement without
 * parameters, values inlined and validated by transaction-prologue.ts) that is not sent when the transaction
 * begins but in the same socket write as the transaction's first statement (see {@link PrologueAndStatement}),
 * or on its own when something needs it entered first ({@link whenEntered}).
 *
 * Why this form, of the three ways pg 8.23 offers to put two queries on the wire together:
 *   - pg's `pipeline: true` client mode sends each query with its own Sync. A prologue that fails as a whole (a
 *     syntax error: nothing ran, no transaction is open) would then be followed by the statement running in an
 *     implicit transaction of its own, outside any tenant; and the mode is per client (it refuses cursors, changes
 *     how every query of the pool is queued).
 *   - corking the socket around two ordinary queries does nothing: a non-pipelined client sends a query only after
 *     the previous one's ReadyForQuery.
 *   - one custom query (a pg Submittable) that writes the prologue's statements and the statement as extended-
 *     protocol messages followed by ONE Sync. SECURITY: PostgreSQL then skips every message after an error until
 *     that Sync (protocol docs, "Extended Query": "…reads and discards messages until a Sync is reached"), so if
 *     any part of the prologue fails — refused by app.enter_tenant, cancelled, or unparsable — the statement is
 *     never parsed, bound or run, neither inside an aborted transaction nor outside one. That is the one chosen.
 * Its result reaches the caller only after the prologue succeeded: a refusal rejects the statement with the
 * prologue's own error (the error a caller saw before, from the prologue), and every later statement of the
 * transaction with it too, until ROLLBACK cleans the connection (pool-client-capture.ts).
 */
export class DeferredPrologue {
  #state: 'waiting' | 'sent' | 'entered' | 'refused' = 'waiting';
  #client: pg.ClientBase | undefined;
  #entered: EnteredRow | undefined;
  #error: unknown;
  readonly #settled: Promise<EnteredRow>;
  #resolve!: (row: EnteredRow) => void;
  #reject!: (error: unknown) => void;

  /**
   * `statements`: the prologue, one statement each, the last one app.enter_tenant. `tenantId`: the tenant id
   * (digits) the prologue names; SECURITY: an entered tenant other than this one fails it closed.
   */
  constructor(
    readonly statements: readonly string[],
    readonly tenantId: string,
  ) {
    this.#settled = new Promise<EnteredRow>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    // Observed by whoever needs it; a refusal nobody awaits is not an unhandled rejection.
    this.#settled.catch(() => {});
  }

  /** waiting: not sent yet; sent: on the wire; entered / refused: its outcome is known. */
  get state(): 'waiting' | 'sent' | 'entered' | 'refused' {
    return this.#state;
  }

  /** The pg client the prologue will run on, once the connection took it (pool-client-capture.ts). */
  get client(): pg.ClientBase | undefined {
    return this.#client;
  }

  /** The prologue's refusal (a pg error, or the connection's), once refused. */
  get error(): unknown {
    return this.#error;
  }

  /** What the prologue entered; undefined until it did. */
  get entered(): EnteredRow | undefined {
    return this.#entered;
  }

  /** Settles when the prologue's outcome is known: the entered row, or the refusal. */
  settled(): Promise<EnteredRow> {
    return this.#settled;
  }

  /** Called by the connection that will run it (once). */
  attach(client: pg.ClientBase): void {
    if (this.#client && this.#client !== client) throw new Error('A deferred prologue belongs to one connection');
    this.#client = client;
  }

  /** The entered row, sending the prologue on its own first when no statement has carried it yet. */
  whenEntered(): Promise<EnteredRow> {
    if (this.#state === 'waiting') void this.sendAlone().catch(() => {});
    return this.#settled;
  }

  /** Sends the prologue alone, as one simple-protocol string (the round trip of a prologue that is not deferred). */
  async sendAlone(): Promise<EnteredRow> {
    const client = this.#client;
    if (!client) throw new Error('A deferred prologue was sent before a connection took it');
    this.#state = 'sent';
    try {
      const results = (await client.query(this.statements.join(';'))) as unknown as pg.QueryResult | pg.QueryResult[];
      const last = Array.isArray(results) ? results.at(-1) : results;
      const row = last?.rows[0] as { entered_tenant?: unknown; entered_user?: unknown } | undefined;
      this.enter(
        row ? { enteredTenant: String(row.entered_tenant), enteredUser: row.entered_user == null ? null : String(row.entered_user) } : undefined,
      );
    } catch (error) {
      this.refuse(error);
    }
    return this.#settled;
  }

  /**
   * Sends the prologue and `statement` in one write ({@link PrologueAndStatement}); resolves with the statement's
   * result only if the prologue entered the tenant, else rejects with the prologue's refusal.
   */
  carry(statement: StatementConfig): Promise<pg.QueryResult> {
    const client = this.#client;
    if (!client) return Promise.reject(new Error('A deferred prologue was sent before a connection took it'));
    this.#state = 'sent';
    return new Promise((resolve, reject) => {
      const types = (client as unknown as { _types?: unknown })._types;
      // A Submittable: pg returns it (not a promise) and reports through its callback.
      (client.query as (query: unknown) => unknown)(
        new PrologueAndStatement(this, statement, types, (error, result) => (error ? reject(error) : resolve(result!))),
      );
    });
  }

  /** @internal The prologue ran; `row` is app.enter_tenant's. */
  enter(row: EnteredRow | undefined): void {
    if (this.#state === 'entered' || this.#state === 'refused') return;
    if (!row) {
      this.refuse(new Error('The tenant prologue returned no row; expected app.enter_tenant of migrations/0012 (run the migrations)'));
    } else if (row.enteredTenant !== this.tenantId) {
      this.refuse(new Error(`The tenant prologue entered tenant ${row.enteredTenant}, expected ${this.tenantId}`));
    } else {
      this.#state = 'entered';
      this.#entered = row;
      this.#resolve(row);
    }
  }

  /** @internal The prologue failed. */
  refuse(error: unknown): void {
    if (this.#state === 'entered' || this.#state === 'refused') return;
    this.#state = 'refused';
    this.#error = error;
    this.#reject(error);
  }

  /** Never serialised with a statement's parameters (Kysely's log event carries them). */
  toJSON(): string {
    return '[deferred prologue]';
  }
}

/** pg's Connection, as far as a query writes to it (pg/lib/connection.js). */
interface WireConnection {
  stream: { cork?: () => void; uncork?: () => void };
  parsedStatements: Record<string, string>;
  submittedNamedStatements: Record<string, string>;
  parse(message: { text: string; name: string; types: unknown[] }): void;
  bind(message: { portal: string; statement: string; values: unknown[] }): void;
  describe(message: { type: 'P' | 'S'; name: string }): void;
  execute(message: { portal: string; rows: number }): void;
  sync(): void;
}

interface Field {
  name: string;
}

/** pg.Query's message handlers (pg/lib/query.js), which the statement's part is delegated to. */
interface PgQuery {
  name?: string;
  callback: (error: unknown, result?: pg.QueryResult) => void;
  _result: { _types?: unknown };
  submit(connection: WireConnection): Error | null;
  hasBeenParsed(connection: WireConnection): boolean;
  handleRowDescription(message: unknown): void;
  handleDataRow(message: unknown): void;
  handleCommandComplete(message: unknown, connection: WireConnection): void;
  handleEmptyQuery(connection: WireConnection): void;
  handlePortalSuspended(connection: WireConnection): void;
  handleError(error: unknown, connection: WireConnection): void;
  handleReadyForQuery(connection: WireConnection): void;
  handleCopyInResponse(connection: WireConnection): void;
  handleCopyData(message: unknown, connection: WireConnection): void;
}

/**
 * One pg query (a Submittable) that writes, in one corked socket write: for each prologue statement Parse, Bind,
 * (Describe for the last, app.enter_tenant, whose row is read), Execute; then the statement as pg.Query writes it
 * (Parse unless prepared, Bind, Describe, Execute) and one Sync. The replies come in order; the prologue's are
 * read here, the statement's are handed to a pg.Query, which parses rows with the client's type parsers.
 *
 * pg's bookkeeping of named statements: the client records a ParseComplete under the active query's `name`, and
 * forgets a submitted name on an error. `name` is therefore the statement's only once the prologue completed
 * (the statement's ParseComplete comes after it). After a prologue error the server skipped the statement's
 * Parse, so its name is forgotten here, or pg would believe it prepared and never send it again.
 */
class PrologueAndStatement {
  /** For counters (bench/lib/server-process.ts, the tests' round-trip log): what this one round trip carries. */
  readonly texts: readonly string[];
  readonly statementCount: number;
  #completed = 0;
  #fields: Field[] | undefined;
  #row: (string | null)[] | undefined;
  #sentParse = false;
  #submitError: Error | null = null;
  readonly #statement: PgQuery;

  constructor(
    private readonly prologue: DeferredPrologue,
    statement: StatementConfig,
    types: unknown,
    readonly callback: (error: unknown, result?: pg.QueryResult) => void,
  ) {
    this.texts = [prologue.statements.join(';'), statement.text];
    this.statementCount = prologue.statements.length + 1;
    // Always the extended protocol: a simple Query message inside the pipeline would not be skipped after an error.
    const query = new pg.Query({ ...statement, values: [...statement.values], queryMode: 'extended' } as pg.QueryConfig) as unknown as PgQuery;
    query._result._types = types;
    query.callback = (error, result) => {
      // SECURITY: nothing of the statement reaches the caller unless the prologue entered the tenant.
      if (this.prologue.state !== 'entered') callback(this.prologue.error ?? error ?? new Error('The tenant prologue did not complete'));
      else callback(error, result);
    };
    this.#statement = query;
  }

  get #inPrologue(): boolean {
    return this.#completed < this.prologue.statements.length;
  }

  /** Read by pg's client on ParseComplete and ErrorResponse (see the class comment). */
  get name(): string | undefined {
    return this.#inPrologue ? undefined : this.#statement.name;
  }

  /** Read by pg's client on ParseComplete, with `name`: the text it records as prepared under that name. */
  get text(): string {
    return this.texts[1]!;
  }

  submit(connection: WireConnection): null {
    const stream = connection.stream;
    stream.cork?.();
    try {
      const last = this.prologue.statements.length - 1;
      this.prologue.statements.forEach((text, index) => {
        connection.parse({ text, name: '', types: [] });
        connection.bind({ portal: '', statement: '', values: [] });
        if (index === last) connection.describe({ type: 'P', name: '' });
        connection.execute({ portal: '', rows: 0 });
      });
      this.#sentParse = Boolean(this.#statement.name) && !this.#statement.hasBeenParsed(connection);
      // pg.Query writes its messages and the Sync (its own cork nests in ours).
      this.#submitError = this.#statement.submit(connection);
      if (this.#submitError) connection.sync();
    } finally {
      stream.uncork?.();
    }
    return null;
  }

  handleRowDescription(message: { fields: Field[] }): void {
    if (this.#inPrologue) this.#fields = message.fields;
    else this.#statement.handleRowDescription(message);
  }

  handleDataRow(message: { fields: (string | null)[] }): void {
    if (this.#inPrologue) this.#row = message.fields;
    else this.#statement.handleDataRow(message);
  }

  handleCommandComplete(message: unknown, connection: WireConnection): void {
    if (!this.#inPrologue) {
      this.#statement.handleCommandComplete(message, connection);
      return;
    }
    this.#completed++;
    if (!this.#inPrologue) this.prologue.enter(this.#enteredRow());
  }

  handleEmptyQuery(connection: WireConnection): void {
    if (!this.#inPrologue) this.#statement.handleEmptyQuery(connection);
  }

  handlePortalSuspended(connection: WireConnection): void {
    this.#statement.handlePortalSuspended(connection);
  }

  handleError(error: unknown, connection: WireConnection): void {
    if (this.#inPrologue) {
      // SECURITY: the server skipped everything after the failing prologue statement up to the Sync: the
      // statement did not run. Its Parse was skipped too, so pg must not count it as prepared.
      const name = this.#statement.name;
      if (this.#sentParse && name && connection.parsedStatements[name] === undefined) delete connection.submittedNamedStatements[name];
      this.prologue.refuse(error);
      this.callback(error);
      return;
    }
    this.#statement.handleError(error, connection);
  }

  handleReadyForQuery(connection: WireConnection): void {
    if (this.#inPrologue) this.prologue.refuse(new Error('The tenant prologue did not complete'));
    if (this.#submitError) {
      this.#statement.handleError(this.#submitError, connection);
      return;
    }
    this.#statement.handleReadyForQuery(connection);
  }

  handleCopyInResponse(connection: WireConnection): void {
    this.#statement.handleCopyInResponse(connection);
  }

  handleCopyData(message: unknown, connection: WireConnection): void {
    this.#statement.handleCopyData(message, connection);
  }

  #enteredRow(): EnteredRow | undefined {
    const fields = this.#fields;
    const row = this.#row;
    if (!fields || !row) return undefined;
    const tenant = row[fields.findIndex((field) => field.name === 'entered_tenant')];
    const user = row[fields.findIndex((field) => field.name === 'entered_user')];
    if (tenant == null) return undefined;
    return { enteredTenant: tenant, enteredUser: user ?? null };
  }
}

/**
 * The statement config `client` sends `text` with: named when the client prepares statements
 * (prepared-statements.ts `statementConfig`), unnamed otherwise.
 */
export function statementConfigOf(client: pg.ClientBase, text: string, values: readonly unknown[]): StatementConfig {
  const naming = client as unknown as { statementConfig?: (text: string, values: readonly unknown[]) => StatementConfig };
  return naming.statementConfig ? naming.statementConfig(text, values) : { text, values };
}

/**
 * Sends `prologue` and the statement (`text`, `values`) on `client` in one round trip; for a pg client used
 * directly (the bench's floor server). Rejects with the prologue's error when it was refused; the caller rolls
 * back, as after any failed statement of a transaction.
 */
export function queryWithPrologue(
  client: pg.ClientBase,
  prologue: DeferredPrologue,
  text: string,
  values: readonly unknown[],
): Promise<pg.QueryResult> {
  prologue.attach(client);
  return prologue.carry(statementConfigOf(client, text, values));
}
