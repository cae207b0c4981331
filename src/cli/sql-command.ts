import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { compileAuditInsert } from '../audit/audit-log.js';
import type { AuditOutcome } from '../tenancy/audit-sink.js';
import type { Env } from '../config/env.js';
import { buildTransactionPrologue } from '../tenancy/transaction-prologue.js';
import type { CliCommand, CliIo } from './cli-context.js';
import { issueOperatorClaim, openOperatorConnection, resolveOperatorUrls, type OperatorConnection } from './operator-connection.js';
import {
  NoSuchTenantError,
  operatorEvent,
  requireTenantId,
  startOperatorSession,
  withAppSession,
  writeOperatorEvent,
  type AppSession,
  type OperatorSession,
} from './tenant-session.js';
import { formatTable } from './text-table.js';
import { UsageError } from './usage.js';

interface SqlOptions {
  tenantId: string;
  /** The one statement of `-c`; undefined opens psql. */
  statement: string | undefined;
  write: boolean;
  table: boolean;
}

const PSQL_MISSING =
  'psql was not found on PATH. The embedded PostgreSQL package ships no psql: install a PostgreSQL client ' +
  '(Debian/Ubuntu: apt-get install postgresql-client), or run one statement with -c "SQL".';

/**
 * Why `sql` refuses TENANT_CONTEXT_MODE=citus, and what to use instead (docs/citus.md, "cli sql and Citus").
 *
 * SECURITY: the operator's tenant is the owner-written binding of its backend (pid and start time, in
 * app.operator_sessions), which app.current_tenant_id() reads. On a Citus cluster the policies of distributed tables
 * run on the workers (STABLE functions are evaluated there for reads, citusdata/citus#8427), in backends of their
 * own: the coordinator's binding is not there, even if the table were a reference table, because the key is the
 * coordinator backend. A statement that reaches a worker fails closed; one that Citus runs on the coordinator would
 * work. The only thing a worker sees that the operator cannot change is who it is (its role), which would need a
 * login role per tenant; not built, and not provable without a real Citus. So the command refuses, every time,
 * rather than work on plain PostgreSQL in Citus mode and fail on the cluster.
 */
const CITUS_MODE_REFUSAL =
  'sql is not available with TENANT_CONTEXT_MODE=citus: it confines the operator by a binding of its coordinator backend ' +
  '(app.operator_sessions), which the Citus workers that evaluate the tenant policies cannot see (docs/citus.md, "cli sql and Citus"). ' +
  "To look at one tenant's rows, use `npm run -s cli -- tenant export --tenant ID --out DIR` (every tenant table, read as the app role " +
  "under that tenant's Row Level Security), or `tenant import` the export into a database in TENANT_CONTEXT_MODE=standard and run sql there.";

/**
 * `sql --tenant TENANT_ID [-c "SQL"] [--write] [--table]`: an operator's look into one tenant, through Row Level
 * Security. With -c, runs that one statement as tenantgraph_operator confined to the tenant, READ ONLY and rolled
 * back unless --write (then committed), and prints the rows as JSON lines (--table: as psql would). Without -c,
 * opens psql as tenantgraph_operator confined the same way, read-only by default unless --write.
 *
 * Every session leaves one audit event in the tenant's trail: source 'cli', operation type 'sql', the statement
 * (first 200 characters) or 'psql session' as its name, outcome, duration, request id `cli-<uuid>` (also the
 * connections' application_name, so pg_stat_activity shows it), no user.
 *
 * SECURITY: the tenant is not a setting the statement could change but the binding of the operator's backend,
 * written by the owner before the operator runs anything (migrations/0007, operator-connection.ts). The
 * operator role is a member of no role and may create nothing outside its temporary schema, so neither
 * set_config, SET ROLE, RESET, DISCARD nor a function or DO block of the operator's reaches another tenant.
 */
export const sqlCommand: CliCommand<SqlOptions> = {
  parse(args) {
    const { values } = parseArgs({
      args,
      strict: true,
      options: {
        tenant: { type: 'string' },
        command: { type: 'string', short: 'c' },
        write: { type: 'boolean', default: false },
        table: { type: 'boolean', default: false },
      },
    });
    const tenantId = requireTenantId('sql', values.tenant);
    if (values.command !== undefined && !values.command.trim()) throw new UsageError('-c needs an SQL statement, received an empty one');
    if (values.command === undefined && values.table) throw new UsageError('--table formats the rows of -c; psql formats its own');
    return { tenantId, statement: values.command, write: values.write, table: values.table };
  },

  async run(options, env, io) {
    // Before anything connects: the confinement below cannot hold on a Citus cluster (see CITUS_MODE_REFUSAL).
    if (env.TENANT_CONTEXT_MODE === 'citus') throw new Error(CITUS_MODE_REFUSAL);
    const session = startOperatorSession(options.tenantId, options.statement ?? 'psql session');
    await withAppSession(env, io, session, async (app) => {
      if (options.statement === undefined) await runPsql(app, session, options.write, env, io);
      else await runStatement(app, session, { ...options, statement: options.statement }, env, io);
    });
  },
};

async function runStatement(
  app: AppSession,
  session: OperatorSession,
  options: SqlOptions & { statement: string },
  env: Env,
  io: CliIo,
): Promise<void> {
  let operator: OperatorConnection | undefined;
  let began = false;
  let tenantExists = true;
  let auditedInside = false;
  let failure: unknown;
  let result: pg.QueryArrayResult | undefined;
  try {
    // SECURITY: the statement runs as tenantgraph_operator on a backend the owner bound to this tenant before
    // it runs: no set_config, SET ROLE, RESET or function of the statement's can change which tenant's rows it
    // reads or writes (migrations/0007), so nothing has to be detected afterwards.
    operator = await openOperatorConnection(await resolveOperatorUrls(env, app), session);
    const client = operator.client;
    // The prologue every API request begins with: READ ONLY unless --write, the server's timeouts. Its tenant
    // setting is inert for the operator role; no user: operator work acts for none.
    await client.query(
      buildTransactionPrologue(
        { tenantId: session.tenantId, userId: null },
        {
          readOnly: !options.write,
          statementTimeoutMs: env.DB_STATEMENT_TIMEOUT_MS,
          idleInTransactionTimeoutMs: env.DB_IDLE_IN_TRANSACTION_TIMEOUT_MS,
        },
      ),
    );
    began = true;
    // The extended protocol takes exactly one statement: "select 1; commit; ..." fails instead of ending the
    // READ ONLY transaction early and running the rest outside it. @types/pg does not declare queryMode yet.
    result = await client.query({ text: options.statement, rowMode: 'array', queryMode: 'extended' } as pg.QueryArrayConfig);
    if (options.write) {
      // Like a mutation's, the event commits with the change it describes, or not at all.
      const insert = compileAuditInsert(app.database.db, [operatorEvent(session, 'committed')]);
      await client.query(insert.sql, [...insert.parameters]);
      await client.query('commit');
      auditedInside = true;
    } else {
      await client.query('rollback');
    }
  } catch (error) {
    failure = error;
    if (error instanceof NoSuchTenantError) tenantExists = false;
    await operator?.client.query('rollback').catch(() => {});
  } finally {
    // Never reused: the connection is bound to this tenant and the statement may have changed session state.
    await operator?.close();
  }
  if (tenantExists && !auditedInside) await writeOperatorEvent(app, operatorEvent(session, began ? 'rolled_back' : 'rejected'));
  if (failure !== undefined) {
    if (tenantExists) io.log(`rolled back · audit event ${session.requestId}`);
    throw failure;
  }
  printResult(result!, options.table, io);
  const ending = options.write ? 'committed' : 'rolled back (read only)';
  io.log(`${result!.command ?? ''} ${result!.rowCount ?? ''}`.trim() + ` · ${ending} · audit event ${session.requestId}`);
}

function printResult(result: pg.QueryArrayResult, table: boolean, io: CliIo): void {
  if (!result.fields.length) return; // INSERT/UPDATE/... without RETURNING: the status line says what happened
  const names = uniqueNames(result.fields.map((field) => field.name));
  if (!table) {
    for (const row of result.rows) io.out(JSON.stringify(Object.fromEntries(names.map((name, i) => [name, jsonValue(row[i])]))));
    return;
  }
  const numeric = result.fields.map((field) => NUMERIC_TYPES.has(field.dataTypeID));
  for (const line of formatTable(
    names,
    result.rows.map((row) => row.map(textValue)),
    numeric,
  ))
    io.out(line);
  io.out(`(${result.rows.length} ${result.rows.length === 1 ? 'row' : 'rows'})`);
}

// int2, int4, int8, float4, float8, numeric, oid: right-aligned, as psql aligns them.
const NUMERIC_TYPES = new Set([21, 23, 20, 700, 701, 1700, 26]);

/** `select 1, 1` has two "?column?" columns; a JSON object would keep only one. */
function uniqueNames(names: string[]): string[] {
  const seen = new Map<string, number>();
  return names.map((name) => {
    const count = (seen.get(name) ?? 0) + 1;
    seen.set(name, count);
    return count === 1 ? name : `${name}_${count}`;
  });
}

function jsonValue(value: unknown): unknown {
  return Buffer.isBuffer(value) ? `\\x${value.toString('hex')}` : value;
}

function textValue(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'string') return value;
  if (value instanceof Date) return value.toISOString();
  if (Buffer.isBuffer(value)) return `\\x${value.toString('hex')}`;
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}

/**
 * psql as tenantgraph_operator, confined to the tenant like -c.
 *
 * SECURITY: psql opens its own connection, whose backend the CLI cannot know beforehand, so the owner issues a
 * one-time token for the tenant and psql's startup file (PSQLRC, read before any input) redeems it with
 * app.claim_operator_session, binding psql's backend for the session's life (a session that cannot bind sees
 * no tenant, and the command fails when it ends). Afterwards nothing typed into psql changes the tenant (a
 * bound backend cannot claim again, and only the owner removes bindings); `\connect` opens an unbound
 * connection, which sees no tenant.
 * READ ONLY is a default (default_transaction_read_only), not a confinement: `--write` turns it off, and so can
 * the operator. The operator's own ~/.psqlrc is not read.
 */
async function runPsql(app: AppSession, session: OperatorSession, write: boolean, env: Env, io: CliIo): Promise<void> {
  const urls = await resolveOperatorUrls(env, app);
  // The checks of -c on a connection of the session's own (unknown tenant, pooler, unconfined role) first.
  await (await openOperatorConnection(urls, session)).close();
  const settings = ['-c max_parallel_workers_per_gather=0', ...(write ? [] : ['-c default_transaction_read_only=on'])].join(' ');

  const claim = await issueOperatorClaim(urls.ownerUrl, session);
  const folder = await mkdtemp(path.join(os.tmpdir(), 'tenantgraph-psql-'));
  const startupFile = path.join(folder, 'psqlrc');
  // The token is a UUID the database generated: nothing in it needs quoting.
  await writeFile(startupFile, psqlStartup(claim.token), { mode: 0o600 });

  const target = new URL(urls.operatorUrl);
  const password = decodeURIComponent(target.password);
  target.password = ''; // in the environment, not in argv, where `ps` would show it
  let status: number | 'missing';
  let bound: boolean;
  try {
    const child = spawn('psql', [target.toString()], {
      stdio: 'inherit',
      // psql inherits the operator's environment (locale, PGSSLMODE ...); these are set here.
      env: { ...process.env, PSQLRC: startupFile, PGOPTIONS: settings, PGAPPNAME: session.requestId, ...(password ? { PGPASSWORD: password } : {}) },
    });
    status = await waitForPsql(child);
    bound = status !== 'missing' && (await claim.claimed());
  } finally {
    await claim.close();
    await rm(folder, { recursive: true, force: true });
  }
  if (status === 'missing') throw new Error(PSQL_MISSING); // no session began, so there is nothing to audit
  // psql exits 0 when the session ended normally, 2 when it could not connect, 1 or 3 after an error.
  const outcome: AuditOutcome = !bound || status === 2 ? 'rejected' : status === 0 ? 'committed' : 'rolled_back';
  await writeOperatorEvent(app, operatorEvent(session, outcome));
  io.log(`psql session ended (status ${status}) · audit event ${session.requestId}`);
  if (!bound) throw new Error(`The psql session could not bind to tenant ${session.tenantId}, so it saw no tenant data.`);
  if (status !== 0) throw new Error(`psql exited with status ${status}`);
}

/**
 * psql's startup file: redeem the token as the first statement, in a READ WRITE transaction of its own (the
 * session's read-only default would refuse the binding's UPDATE), quietly. A session that cannot bind is told
 * so; it goes on, bound to no tenant, where every tenant table raises (`\q` would end only this file, not psql),
 * and the CLI reports it as refused when psql exits.
 */
function psqlStartup(token: string): string {
  return [
    '\\set QUIET on',
    'start transaction read write;',
    `select app.claim_operator_session('${token}', (select backend_start from pg_catalog.pg_stat_get_activity(pg_catalog.pg_backend_pid()))) as tenantgraph_bound \\gset`,
    'commit;',
    '\\unset QUIET',
    '\\if :{?tenantgraph_bound}',
    '\\unset tenantgraph_bound',
    '\\else',
    "\\warn 'This psql session could not bind to its tenant: it sees no tenant data.'",
    '\\endif',
    '',
  ].join('\n');
}

/** Waits for psql to exit; Ctrl-C belongs to psql (it cancels the running query), termination is passed on. */
async function waitForPsql(child: ChildProcess): Promise<number | 'missing'> {
  const ignore = () => {};
  const forward = (signal: NodeJS.Signals) => child.kill(signal);
  process.on('SIGINT', ignore);
  process.on('SIGQUIT', ignore);
  process.on('SIGTERM', forward);
  process.on('SIGHUP', forward);
  try {
    return await new Promise<number | 'missing'>((resolve, reject) => {
      child.once('error', (error: NodeJS.ErrnoException) => (error.code === 'ENOENT' ? resolve('missing') : reject(error)));
      child.once('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
    });
  } finally {
    process.off('SIGINT', ignore);
    process.off('SIGQUIT', ignore);
    process.off('SIGTERM', forward);
    process.off('SIGHUP', forward);
  }
}
