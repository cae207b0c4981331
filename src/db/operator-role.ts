import { createHmac } from 'node:crypto';
import { connectClient, GuardedClient } from './guarded-client.js';

/**
 * The confined role `cli sql` runs operator statements as (migrations/0007). Its tenant is the owner-written
 * binding of its backend in app.operator_sessions, never the app.current_tenant setting; the name is also
 * what app.current_tenant_id() compares session_user and current_user with.
 */
export const OPERATOR_ROLE = 'tenantgraph_operator';

/**
 * The embedded database's password for the operator role, derived from its superuser password (both live in
 * DATA_DIR/secrets.json), so secrets.json keeps its shape and two CLI processes always agree on it.
 */
export function embeddedOperatorPassword(postgresPassword: string): string {
  return createHmac('sha256', postgresPassword).update(OPERATOR_ROLE).digest('hex');
}

/**
 * Gives the operator role a login (with `password`, or none for a trust-auth test server), as
 * enableAppRoleLogin does for the app role. Nothing is altered when `operatorUrl` can already log in, and the
 * ALTER ROLE is serialised with a transaction-scoped advisory lock: two CLI processes starting together would
 * otherwise update the same pg_authid row at once ("tuple concurrently updated").
 */
export async function enableOperatorRoleLogin(ownerUrl: string, operatorUrl: string, password: string | null): Promise<void> {
  if (password !== null && !/^[0-9a-f]+$/.test(password)) throw new Error('Operator role password must be hex');
  if (await canLogIn(operatorUrl)) return;
  const client = await connectClient({ connectionString: ownerUrl, application_name: 'tenantgraph-operator-login' });
  try {
    await client.query('begin');
    await client.query("select pg_advisory_xact_lock(hashtext('tenantgraph: operator role login'))");
    // The password is hex (checked above), so inlining it (ALTER ROLE takes no parameters) is safe.
    await client.query(`alter role ${OPERATOR_ROLE} login ${password === null ? '' : `password '${password}'`}`);
    await client.query('commit');
  } finally {
    await client.end();
  }
}

async function canLogIn(url: string): Promise<boolean> {
  const probe = new GuardedClient({ connectionString: url, application_name: 'tenantgraph-operator-login' });
  try {
    await probe.connect();
    return true;
  } catch {
    return false;
  } finally {
    await probe.end().catch(() => {});
  }
}
