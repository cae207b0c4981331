import { spawn } from 'node:child_process';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { compileAuditInsert, type AuditOutcome } from '../audit/audit-log.js';
import type { Env } from '../config/env.js';
import { buildTransactionPrologue } from '../tenancy/transaction-prologue.js';
import type { CliCommand, CliIo } from './cli-context.js';
import {
  NoSuchTenantError,
  operatorEvent,
  readInTenant,
  requireTenantId,
  startOperatorSession,
  withAppSession,
  writeOperatorEvent,
  type AppSession,
  type OperatorSession,
} from './tenant-session.js';
import { formatTable } from './text-table.js';
import { UsageError } from './usage.js';
import { connectClient } from '../db/guarded-client.js';

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
 * `sql --tenant TENANT_ID [-c "SQL"] [--write] [--table]`: an operator's look into one tenant, through Row Level
 * Security. With -c, runs that one statement as the app role in the tenant's context, READ ONLY and rolled back
 * unless --write (then committed), and prints the rows as JSON lines (--table: as psql would). Without -c, opens
 * psql as the app role with the tenant applied, read-only by default unless --write.
 *
 * Every session leaves one audit event in the tenant's trail: source 'cli', operation type 'sql', the statement
 * (first 200 characters) or 'psql session' as its name, outcome, duration, request id `cli-<uuid>` (also the
 * connections' application_name, so pg_stat_activity shows it), no user.
 *
 * SECURITY: what confines a session is the app role (NOSUPERUSER NOBYPASSRLS, checked before anything runs) and
 * the tenant setting; anyone holding DATABASE_URL_APP can set another tenant themselves. The command makes the
 * honest path the easy one and records it: -c refuses a statement that changes the tenant setting, but a psql
 * session is the operator's own.
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
  const client = await app.pool.connect();
  let began = false;
  let tenantExists = true;
  let auditedInside = false;
  let failure: unknown;
  let result: pg.QueryArrayResult | undefined;
  try {
    // SECURITY: the prologue every API request begins with: the tenant is transaction-local, the transaction
    // READ ONLY unless --write, with the server's timeouts. No user: operator work acts for none.
    await client.query(
      buildTransactionPrologue(
        { tenantId: session.tenantId, userId: null },
        { readOnly: !options.write, statementTimeoutMs: env.DB_STATEMENT_TIMEOUT_MS, idleInTransactionTimeoutMs: env.DB_IDLE_IN_TRANSACTION_TIMEOUT_MS },
      ),
    );
    began = true;
    // RLS shows exactly the current tenant's row: none means there is no such tenant (and nowhere to audit).
    tenantExists = Boolean((await client.query('select from tenants')).rowCount);
    if (!tenantExists) throw new NoSuchTenantError(session.tenantId);
    // The extended protocol takes exactly one statement: "select 1; commit; ..." fails instead of ending the
    // READ ONLY transaction early and running the rest outside it. @types/pg does not declare queryMode yet.
    result = await client.query({ text: options.statement, rowMode: 'array', queryMode: 'extended' } as pg.QueryArrayConfig);
    // SECURITY: a statement can call set_config itself. Its rows are then not this tenant's alone: refuse them.
    const { rows } = await client.query<{ tenant: string | null }>("select current_setting('app.current_tenant', true) as tenant");
    if (rows[0]?.tenant !== session.tenantId) {
      throw new Error(`The statement changed app.current_tenant (to ${JSON.stringify(rows[0]?.tenant ?? null)}); its transaction was rolled back and its rows discarded.`);
    }
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
    await client.query('rollback').catch(() => {});
  } finally {
    // Never reused: a statement may have changed session state (set_config(..., false), SET), which must not
    // reach the connection that writes the audit event.
    client.release(true);
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
  for (const line of formatTable(names, result.rows.map((row) => row.map(textValue)), numeric)) io.out(line);
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
 * psql as the app role with the tenant applied for the whole session.
 *
 * SECURITY: psql sends each statement on its own, so there is no one transaction to scope; instead the tenant
 * is a session setting given at connection start (PGOPTIONS="-c app.current_tenant=ID"). The server forbids
 * session settings because a pooled connection would carry them into another tenant's request; this connection
 * is psql's own, not pooled, and the setting ends with it. Through PgBouncer, which drops or refuses startup
 * options, the session would have no tenant: that is checked first and refused with an explanation.
 */
async function runPsql(app: AppSession, session: OperatorSession, write: boolean, env: Env, io: CliIo): Promise<void> {
  // Tenant ids are validated digits, so nothing in PGOPTIONS needs quoting.
  const settings = [`-c app.current_tenant=${session.tenantId}`, ...(write ? [] : ['-c default_transaction_read_only=on'])].join(' ');
  await readInTenant(app, session.tenantId, env, async () => {}); // throws "No tenant ..." for an unknown one
  await assertStartupOptionsApply(app.appUrl, settings, session);

  const target = new URL(app.appUrl);
  const password = decodeURIComponent(target.password);
  target.password = ''; // in the environment, not in argv, where `ps` would show it
  const child = spawn('psql', [target.toString()], {
    stdio: 'inherit',
    // psql inherits the operator's environment (locale, PSQLRC, PGSSLMODE ...); these three are set here.
    env: { ...process.env, PGOPTIONS: settings, PGAPPNAME: session.requestId, ...(password ? { PGPASSWORD: password } : {}) },
  });
  // Ctrl-C belongs to psql (it cancels the running query); termination is passed on so the session ends, and is
  // audited, instead of leaving psql behind.
  const ignore = () => {};
  const forward = (signal: NodeJS.Signals) => child.kill(signal);
  process.on('SIGINT', ignore);
  process.on('SIGQUIT', ignore);
  process.on('SIGTERM', forward);
  process.on('SIGHUP', forward);
  let status: number | 'missing';
  try {
    status = await new Promise<number | 'missing'>((resolve, reject) => {
      child.once('error', (error: NodeJS.ErrnoException) => (error.code === 'ENOENT' ? resolve('missing') : reject(error)));
      child.once('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
    });
  } finally {
    process.off('SIGINT', ignore);
    process.off('SIGQUIT', ignore);
    process.off('SIGTERM', forward);
    process.off('SIGHUP', forward);
  }
  if (status === 'missing') throw new Error(PSQL_MISSING); // no session began, so there is nothing to audit
  // psql exits 0 when the session ended normally, 2 when it could not connect, 1 or 3 after an error.
  const outcome: AuditOutcome = status === 0 ? 'committed' : status === 2 ? 'rejected' : 'rolled_back';
  await writeOperatorEvent(app, operatorEvent(session, outcome));
  io.log(`psql session ended (status ${status}) · audit event ${session.requestId}`);
  if (status !== 0) throw new Error(`psql exited with status ${status}`);
}

/** Connects once with the session's startup options and checks that the server applied the tenant. */
async function assertStartupOptionsApply(appUrl: string, options: string, session: OperatorSession): Promise<void> {
  const probe = await connectClient({ connectionString: appUrl, options, application_name: session.requestId });
  try {
    const { rows } = await probe.query<{ tenant: string | null }>("select current_setting('app.current_tenant', true) as tenant");
    if (rows[0]?.tenant !== session.tenantId) {
      throw new Error(
        'The app connection does not apply startup options (PGOPTIONS), so a psql session would have no tenant; ' +
          'PgBouncer drops them. Point DATABASE_URL_APP at PostgreSQL itself for psql sessions, or use -c "SQL".',
      );
    }
  } finally {
    await probe.end();
  }
}
