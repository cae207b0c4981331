import { sql, type Kysely } from 'kysely';
import { DatabaseRefusal } from './database-refusal.js';
import { findCatalogProblems, type TenantContextMode } from './tenant-catalog.js';

/**
 * SECURITY: refuses to serve when the app connection would not be isolated by Row Level Security.
 * PostgreSQL silently skips every policy for superusers and BYPASSRLS roles, and for table owners unless
 * FORCE ROW LEVEL SECURITY is set, so an operator who points DATABASE_URL_APP at the owner by mistake would
 * otherwise get a server that quietly shows every tenant's data.
 *
 * Then every check of the catalog (tenant-catalog.ts, the same functions test/rls/catalog.test.ts asserts on), for
 * the connection's role: forced RLS and the exact restrictive tenant policy on every tenant table, tenant-led keys
 * and foreign keys, the tenant column, grants, no relation or function that bypasses the policies.
 *
 * Returns the list of problems (empty when safe); each says what to fix.
 */
export async function findIsolationProblems(db: Kysely<any>, mode: TenantContextMode = 'standard'): Promise<string[]> {
  const problems: string[] = [];

  const { rows: roles } = await sql<{ rolname: string; rolsuper: boolean; rolbypassrls: boolean; login: string }>`
    select r.rolname, r.rolsuper, r.rolbypassrls, current_user as login
      from pg_roles r
     where pg_has_role(current_user, r.oid, 'MEMBER') and (r.rolsuper or r.rolbypassrls)`.execute(db);
  for (const role of roles) {
    const what = role.rolsuper ? 'a superuser' : 'a BYPASSRLS role';
    const who =
      role.rolname === role.login
        ? `The app connection's role "${role.login}" is ${what}`
        : `The app connection's role "${role.login}" can act as ${what} ("${role.rolname}")`;
    problems.push(
      `${who}, so Row Level Security does not apply to it. Point DATABASE_URL_APP at tenantgraph_app (NOSUPERUSER NOBYPASSRLS), not at the owner.`,
    );
  }

  const { rows: owned } = await sql<{ name: string }>`
    select format('%I.%I', n.nspname, c.relname) as name
      from pg_class c join pg_namespace n on n.oid = c.relnamespace
     where c.relkind in ('r', 'p', 'v', 'm')
       and n.nspname not in ('pg_catalog', 'information_schema') and n.nspname not like 'pg_toast%'
       and pg_has_role(current_user, c.relowner, 'MEMBER')
     order by 1`.execute(db);
  if (owned.length) {
    problems.push(
      `The app connection's role owns ${owned.map((t) => t.name).join(', ')}; owners can disable or bypass Row Level Security. Run migrations as a separate owner role (DATABASE_URL) and connect the server as tenantgraph_app.`,
    );
  }

  // SECURITY: a privileged connection makes every other finding moot (RLS does not apply to it at all), and the
  // catalog checks below would list every table it owns; say the one thing to fix.
  if (problems.length) return problems;
  const {
    rows: [current],
  } = await sql<{ role: string }>`select current_user::text as role`.execute(db);
  return findCatalogProblems(db, current!.role, mode);
}

export class UnsafeDatabaseError extends DatabaseRefusal {
  constructor(problems: string[]) {
    super('Refusing to start: the app database connection is not isolated by Row Level Security.', problems);
  }
}

/** Throws {@link UnsafeDatabaseError} listing every problem. */
export async function assertIsolationIsEnforced(db: Kysely<any>, mode: TenantContextMode = 'standard'): Promise<void> {
  const problems = await findIsolationProblems(db, mode);
  if (problems.length) throw new UnsafeDatabaseError(problems);
}
