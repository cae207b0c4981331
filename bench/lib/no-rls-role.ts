import { APP_ROLE } from '../../src/db/prepare-database.js';
import { connectClient } from '../../src/db/guarded-client.js';

/** The role of the "API without RLS" server. Created by the bench (and its test), never by a migration. */
export const NO_RLS_ROLE = 'tenantgraph_bench_norls';

const ROLE_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * Creates (or refreshes) a LOGIN NOSUPERUSER BYPASSRLS role with exactly the app role's privileges: it is made a
 * member of tenantgraph_app, so its grants follow the migrations' grants without being copied. Needs a
 * superuser connection (only a superuser may grant BYPASSRLS). `password` null leaves the password alone
 * (trust authentication). Role names and passwords are validated before they are inlined (DDL takes no
 * parameters).
 */
export async function ensureNoRlsRole(ownerUrl: string, role: string, password: string | null): Promise<void> {
  if (!ROLE_NAME.test(role)) throw new Error(`Role name must be a lowercase identifier, received ${JSON.stringify(role)}`);
  if (password !== null && !/^[0-9a-f]+$/.test(password)) throw new Error('Role password must be hex');
  const client = await connectClient({ connectionString: ownerUrl, application_name: 'tenantgraph-bench-admin' });
  try {
    await client.query(`
      DO $$
      BEGIN
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '${role}') THEN
          CREATE ROLE ${role} LOGIN NOSUPERUSER BYPASSRLS NOCREATEDB NOCREATEROLE;
        END IF;
      EXCEPTION WHEN duplicate_object OR unique_violation THEN
        NULL; -- created concurrently
      END
      $$`);
    await client.query(`alter role ${role} login nosuperuser bypassrls ${password === null ? '' : `password '${password}'`}`);
    await client.query(`grant ${APP_ROLE} to ${role}`);
  } finally {
    await client.end();
  }
}

/** Drops the role; connections that still use it are ended first. */
export async function dropNoRlsRole(ownerUrl: string, role: string): Promise<void> {
  if (!ROLE_NAME.test(role)) throw new Error(`Role name must be a lowercase identifier, received ${JSON.stringify(role)}`);
  const client = await connectClient({ connectionString: ownerUrl, application_name: 'tenantgraph-bench-admin' });
  try {
    await client.query('select pg_terminate_backend(pid) from pg_stat_activity where usename = $1', [role]);
    await client.query(`drop role if exists ${role}`);
  } finally {
    await client.end();
  }
}

/** Re-exported for the bench's callers (and bench/test/bench-switch.test.ts). */
export { withUser } from '../../src/db/database-urls.js';
