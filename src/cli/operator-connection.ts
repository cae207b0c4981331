import pg from 'pg';
import type { Env } from '../config/env.js';
import { loadDevSecrets } from '../config/dev-secrets.js';
import { withUser } from '../db/database-urls.js';
import { embeddedOperatorPassword, enableOperatorRoleLogin, OPERATOR_ROLE } from '../db/operator-role.js';
import { findOperatorConfinementProblems, UnconfinedOperatorError } from '../db/operator-safety-check.js';
import { createPool } from '../db/pool.js';
import { NoSuchTenantError, type OperatorSession } from './tenant-session.js';
import { connectClient } from '../db/guarded-client.js';

/** Where the owner and the operator connect: the owner writes bindings, the operator runs the statement. */
export interface OperatorUrls {
  readonly ownerUrl: string;
  readonly operatorUrl: string;
}

/**
 * DATABASE_URL_OPERATOR, or for the embedded database the operator role's URL on the app role's server, with a
 * login given first (a password derived from DATA_DIR's secrets, see embeddedOperatorPassword).
 */
export async function resolveOperatorUrls(env: Env, database: { ownerUrl: string; appUrl: string; embedded: boolean }): Promise<OperatorUrls> {
  if (env.DATABASE_URL_OPERATOR) return { ownerUrl: database.ownerUrl, operatorUrl: env.DATABASE_URL_OPERATOR };
  if (!database.embedded) {
    throw new Error(
      `sql runs statements as ${OPERATOR_ROLE}, the role whose tenant they cannot change, and needs a login for it: ` +
        `set DATABASE_URL_OPERATOR (after ALTER ROLE ${OPERATOR_ROLE} LOGIN PASSWORD '...'), pointing at PostgreSQL itself, not PgBouncer.`,
    );
  }
  const password = embeddedOperatorPassword((await loadDevSecrets(env.DATA_DIR)).postgresPassword);
  const operatorUrl = withUser(database.appUrl, OPERATOR_ROLE, password);
  await enableOperatorRoleLogin(database.ownerUrl, operatorUrl, password);
  return { ownerUrl: database.ownerUrl, operatorUrl };
}

/** One operator connection, bound to one tenant for its whole life. */
export interface OperatorConnection {
  readonly client: pg.PoolClient;
  /** Closes the connection, then removes its binding (as the owner). Never throws. */
  close(): Promise<void>;
}

/**
 * Opens a connection as tenantgraph_operator and binds its backend to `session.tenantId` before it runs
 * anything of the operator's: the owner writes the binding (pid and start time of that backend) into
 * app.operator_sessions, then the connection is checked to be confined (findOperatorConfinementProblems).
 * Throws {@link NoSuchTenantError} for an unknown tenant, {@link UnconfinedOperatorError} when the connection
 * is not confined; nothing stays open or bound then.
 *
 * SECURITY: from here on, no statement on this connection can change its tenant: app.current_tenant_id()
 * reads the binding, which only the owner writes, and ignores app.current_tenant.
 */
export async function openOperatorConnection(urls: OperatorUrls, session: OperatorSession): Promise<OperatorConnection> {
  const pool = createPool({ connectionString: urls.operatorUrl, max: 1, applicationName: session.requestId });
  let client: pg.PoolClient | undefined;
  let bindingId: string | undefined;
  const close = async () => {
    client?.release(true);
    await pool.end().catch(() => {});
    if (bindingId !== undefined) await removeBinding(urls.ownerUrl, bindingId).catch(() => {});
  };
  try {
    client = await pool.connect();
    // Parallel workers have pids of their own and would find no binding (an error, never another tenant).
    const [, identity] = (await client.query(
      'set max_parallel_workers_per_gather = 0; select pg_backend_pid() as pid, backend_start::text as started from pg_stat_get_activity(pg_backend_pid())',
    )) as unknown as pg.QueryResult<{ pid: number; started: string }>[];
    const backend = identity!.rows[0]!;
    // Through a pooler (PgBouncer) the backend serves other clients after us and the binding would go with it.
    const processId = (client as unknown as { processID?: number }).processID;
    if (processId !== backend.pid) {
      throw new UnconfinedOperatorError([
        `The operator connection goes through a connection pooler (backend ${backend.pid}, connection key ${processId ?? 'none'}): a tenant bound to the backend would serve the pooler's next client. Point DATABASE_URL_OPERATOR at PostgreSQL itself.`,
      ]);
    }
    bindingId = await bindBackend(urls.ownerUrl, session, backend.pid, backend.started);
    const problems = await findOperatorConfinementProblems(client, session.tenantId);
    if (problems.length) throw new UnconfinedOperatorError(problems);
    return { client, close };
  } catch (error) {
    await close();
    throw error;
  }
}

/**
 * A one-time token for a psql session, which binds psql's own backend with app.claim_operator_session as its
 * first statement (the CLI cannot learn that backend beforehand). `claimed()` tells whether it was redeemed;
 * `close()` removes the row. Throws {@link NoSuchTenantError} for an unknown tenant.
 */
export async function issueOperatorClaim(
  ownerUrl: string,
  session: OperatorSession,
): Promise<{ token: string; claimed(): Promise<boolean>; close(): Promise<void> }> {
  const { id, claim_token: token } = await asOwner(ownerUrl, async (client) => {
    await removeStaleBindings(client);
    return insertSession<{ id: string; claim_token: string }>(
      client,
      session,
      'insert into app.operator_sessions (bound_tenant_id, request_id, claim_token) values ($1, $2, gen_random_uuid()) returning id, claim_token',
      [],
    );
  });
  return {
    token,
    claimed: () =>
      asOwner(ownerUrl, async (client) => {
        const { rows } = await client.query<{ claimed: boolean }>('select claim_token is null as claimed from app.operator_sessions where id = $1', [
          id,
        ]);
        return rows[0]?.claimed ?? false;
      }),
    close: () => removeBinding(ownerUrl, id).catch(() => {}),
  };
}

async function bindBackend(ownerUrl: string, session: OperatorSession, pid: number, started: string): Promise<string> {
  return asOwner(ownerUrl, async (client) => {
    // A row for this pid is stale (its backend is ours now): a CLI that died before removing its binding.
    await client.query('delete from app.operator_sessions where backend_pid = $1', [pid]);
    await removeStaleBindings(client);
    const row = await insertSession<{ id: string }>(
      client,
      session,
      'insert into app.operator_sessions (bound_tenant_id, request_id, backend_pid, backend_start) values ($1, $2, $3, $4::timestamptz) returning id',
      [pid, started],
    );
    return row.id;
  });
}

/** Bindings of backends that are gone, and tokens nobody redeemed within a day (a CLI killed on the way). */
async function removeStaleBindings(client: pg.ClientBase): Promise<void> {
  await client.query(
    `delete from app.operator_sessions s
      where (s.backend_pid is not null and not exists (select from pg_stat_activity a where a.pid = s.backend_pid))
         or (s.claim_token is not null and s.created_at < now() - interval '1 day')`,
  );
}

async function insertSession<Row extends pg.QueryResultRow>(
  client: pg.ClientBase,
  session: OperatorSession,
  text: string,
  extra: unknown[],
): Promise<Row> {
  try {
    return (await client.query<Row>(text, [session.tenantId, session.requestId, ...extra])).rows[0]!;
  } catch (error) {
    // The foreign key to tenants (checked without RLS) is how an unknown tenant shows.
    if ((error as { code?: string }).code === '23503') throw new NoSuchTenantError(session.tenantId);
    throw error;
  }
}

function removeBinding(ownerUrl: string, id: string): Promise<void> {
  return asOwner(ownerUrl, async (client) => void (await client.query('delete from app.operator_sessions where id = $1', [id])));
}

async function asOwner<T>(ownerUrl: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = await connectClient({ connectionString: ownerUrl, application_name: 'tenantgraph-operator-binding' });
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}
