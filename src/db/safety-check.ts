import { sql, type Kysely } from 'kysely';

/**
 * SECURITY: refuses to serve when the app connection would not be isolated by Row Level Security.
 * PostgreSQL silently skips every policy for superusers and BYPASSRLS roles, and for table owners unless
 * FORCE ROW LEVEL SECURITY is set, so an operator who points DATABASE_URL_APP at the owner by mistake would
 * otherwise get a server that quietly shows every tenant's data.
 *
 * Returns the list of problems (empty when safe); each says what to fix.
 */
export async function findIsolationProblems(db: Kysely<any>): Promise<string[]> {
  const problems: string[] = [];

  const { rows: roles } = await sql<{ rolname: string; rolsuper: boolean; rolbypassrls: boolean; login: string }>`
    select r.rolname, r.rolsuper, r.rolbypassrls, current_user as login
      from pg_roles r
     where pg_has_role(current_user, r.oid, 'MEMBER') and (r.rolsuper or r.rolbypassrls)`.execute(db);
  for (const role of roles) {
    const what = role.rolsuper ? 'a superuser' : 'a BYPASSRLS role';
    const who = role.rolname === role.login ? `The app connection's role "${role.login}" is ${what}` : `The app connection's role "${role.login}" can act as ${what} ("${role.rolname}")`;
    problems.push(`${who}, so Row Level Security does not apply to it. Point DATABASE_URL_APP at tenantgraph_app (NOSUPERUSER NOBYPASSRLS), not at the owner.`);
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

  const { rows: unprotected } = await sql<{ name: string }>`
    select format('%I.%I', n.nspname, c.relname) as name
      from pg_class c join pg_namespace n on n.oid = c.relnamespace
     where c.relkind in ('r', 'p')
       and n.nspname not in ('pg_catalog', 'information_schema')
       and (exists (select from pg_attribute a where a.attrelid = c.oid and a.attname = 'tenant_id' and not a.attisdropped)
            or (n.nspname = 'public' and c.relname = 'tenants'))
       and not (c.relrowsecurity and c.relforcerowsecurity
                and exists (select from pg_policy p where p.polrelid = c.oid and not p.polpermissive))
     order by 1`.execute(db);
  if (unprotected.length) {
    problems.push(
      `Tenant tables without enabled and forced Row Level Security and a RESTRICTIVE tenant policy: ${unprotected.map((t) => t.name).join(', ')}. Add them as the README's "Adding a tenant-owned table" checklist says.`,
    );
  }

  // SECURITY: a relation that is not a tenant table has no tenant policy, so whatever the app connection may read
  // or change there crosses tenants. Two kinds of access are allowed: INSERT into a plain table — an append-only
  // sink such as refused_context_switches (migrations/0006), whose rows the app role can never read back — and
  // SELECT of shared reference data (plan_limits, migrations/0008): a plain table commented as such, read-only for
  // the app role and referring to no other table.
  const { rows: reachable } = await sql<{ name: string }>`
    select format('%I.%I', n.nspname, c.relname) as name
      from pg_class c join pg_namespace n on n.oid = c.relnamespace
     where c.relkind in ('r', 'p', 'v', 'm', 'f')
       and n.nspname not in ('pg_catalog', 'information_schema') and n.nspname !~ '^pg_(toast|temp)'
       and not (c.relkind in ('r', 'p')
                and (exists (select from pg_attribute a where a.attrelid = c.oid and a.attname = 'tenant_id' and not a.attisdropped)
                     or (n.nspname = 'public' and c.relname = 'tenants')))
       and (has_table_privilege(current_user, c.oid, 'SELECT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER')
            or has_any_column_privilege(current_user, c.oid, 'SELECT, UPDATE, REFERENCES')
            or (c.relkind <> 'r' and has_any_column_privilege(current_user, c.oid, 'INSERT')))
       and not (c.relkind = 'r'
                and coalesce(obj_description(c.oid, 'pg_class'), '') like 'Shared reference data:%'
                and not has_table_privilege(current_user, c.oid, 'INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER')
                and not has_any_column_privilege(current_user, c.oid, 'INSERT, UPDATE, REFERENCES')
                and not exists (select from pg_constraint f where f.conrelid = c.oid and f.contype = 'f'))
     order by 1`.execute(db);
  if (reachable.length) {
    problems.push(
      `The app connection can read or change ${reachable.map((t) => t.name).join(', ')}, which ${reachable.length === 1 ? 'is not a tenant table' : 'are not tenant tables'} (no tenant policy applies). Revoke everything but INSERT there, or make it a tenant table as the README's "Adding a tenant-owned table" checklist says.`,
    );
  }
  return problems;
}

export class UnsafeDatabaseError extends Error {
  constructor(readonly problems: string[]) {
    super(`Refusing to start: the app database connection is not isolated by Row Level Security.\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'UnsafeDatabaseError';
  }
}

/** Throws {@link UnsafeDatabaseError} listing every problem. */
export async function assertIsolationIsEnforced(db: Kysely<any>): Promise<void> {
  const problems = await findIsolationProblems(db);
  if (problems.length) throw new UnsafeDatabaseError(problems);
}
