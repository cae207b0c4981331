import { catalogReader, type CatalogReader, type CatalogSource } from './catalog-reader.js';
import { OPERATOR_ROLE } from './operator-role.js';

/**
 * SECURITY: the database's own description of itself (pg_catalog) is the one source of "which tables are tenant
 * tables" and of whether Row Level Security really isolates them. Each check below returns its problems as plain
 * sentences, each with the fix; an empty list means the check passed. Start-up runs every check
 * (src/db/safety-check.ts) and refuses to serve on any problem; test/rls/catalog.test.ts asserts on these same
 * functions, each with a negative control. All of them only read pg_catalog, so they run as the app role too.
 */

/** A tenant table: every table with a `tenant_id` column outside the system schemas, and `tenants` itself. */
export interface TenantTable {
  schema: string;
  table: string;
  /** `schema.table`, quoted where needed: what error messages name. */
  qualifiedName: string;
  /** The column that holds the tenant: `tenant_id`, or `id` for `tenants`. */
  tenantColumn: string;
}

/**
 * TENANT_CONTEXT_MODE: `standard` policies `tenant_id = (SELECT app.current_tenant_id())` and the tenant set with
 * set_config; `citus` policies `tenant_id = app.current_tenant_id()` (no subquery, which Citus rejects;
 * migrations/0017) and the tenant applied with SET LOCAL as well (transaction-prologue.ts). docs/citus.md.
 */
export type TenantContextMode = 'standard' | 'citus';

/** The role the API connects as (migrations/0001). */
export const APP_ROLE = 'tenantgraph_app';

/** Where a new tenant table's one-line RLS setup is (migrations/0009). */
const ENABLE_RLS = (table: string) => `add \`SELECT app.enable_tenant_rls('${table}');\` to a migration`;

/** Tenant tables as a CTE: the SQL of {@link listTenantTables}, reused by every check (and by citus-rules.ts). */
export const TENANT_TABLES = `
  tenant_tables as (
    select c.oid, c.relnamespace, n.nspname as schema, c.relname as "table", format('%I.%I', n.nspname, c.relname) as name,
           c.relrowsecurity, c.relforcerowsecurity,
           a.attnum as tenant_attnum, a.attname as tenant_column, a.attnotnull as tenant_not_null,
           (n.nspname = 'public' and c.relname = 'tenants') as is_tenants
      from pg_class c
      join pg_namespace n on n.oid = c.relnamespace
      join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
           and (a.attname = 'tenant_id' or (n.nspname = 'public' and c.relname = 'tenants' and a.attname = 'id'))
     where c.relkind in ('r', 'p')
       and n.nspname not in ('pg_catalog', 'information_schema') and n.nspname !~ '^pg_(toast|temp)')`;

/**
 * Every tenant table, ordered by name. The one list the rest of the code (tests, tools) derives from, so a new
 * tenant table is covered everywhere the moment its migration runs.
 */
export async function listTenantTables(source: CatalogSource): Promise<TenantTable[]> {
  const { rows } = await catalogReader(source).query<{ schema: string; table: string; name: string; tenant_column: string }>(
    `with ${TENANT_TABLES} select schema, "table", name, tenant_column from tenant_tables order by name`,
  );
  return rows.map((r) => ({ schema: r.schema, table: r.table, qualifiedName: r.name, tenantColumn: r.tenant_column }));
}

/**
 * ENABLE and FORCE ROW LEVEL SECURITY, and a RESTRICTIVE policy FOR ALL TO PUBLIC whose USING and WITH CHECK are
 * both exactly the tenant equality. Permissive policies may add narrower rules (per-user visibility): a
 * restrictive policy is ANDed with them, so no permissive policy can widen it.
 */
export async function rowSecurityProblems(reader: CatalogReader, mode: TenantContextMode = 'standard'): Promise<string[]> {
  const { rows } = await reader.query<{
    name: string;
    tenant_column: string;
    relrowsecurity: boolean;
    relforcerowsecurity: boolean;
    policies: { permissive: boolean; cmd: string; public: boolean; using: string | null; check: string | null }[];
  }>(`
    with ${TENANT_TABLES}
    select t.name, t.tenant_column, t.relrowsecurity, t.relforcerowsecurity,
           coalesce((select json_agg(json_build_object(
                       'permissive', p.polpermissive, 'cmd', p.polcmd, 'public', 0 = any(p.polroles),
                       'using', pg_get_expr(p.polqual, p.polrelid), 'check', pg_get_expr(p.polwithcheck, p.polrelid)))
                       from pg_policy p where p.polrelid = t.oid), '[]') as policies
      from tenant_tables t order by t.name`);
  const problems: string[] = [];
  for (const table of rows) {
    if (!table.relrowsecurity) problems.push(`${table.name}: Row Level Security is not enabled. Fix: ${ENABLE_RLS(table.name)}.`);
    if (!table.relforcerowsecurity) {
      problems.push(
        `${table.name}: Row Level Security is not forced, so the table's owner bypasses it. Fix: ALTER TABLE ${table.name} FORCE ROW LEVEL SECURITY (app.enable_tenant_rls does it).`,
      );
    }
    // SECURITY: how PostgreSQL prints the policy of migrations/0002 back; the InitPlan form reads the setting once.
    // The Citus form (migrations/0017) calls the STABLE function directly, also once per statement execution;
    // exactly one form is accepted, the one of the mode, so policies and the way the tenant is set always agree.
    const equality =
      mode === 'citus'
        ? `(${table.tenant_column} = app.current_tenant_id())`
        : `(${table.tenant_column} = ( SELECT app.current_tenant_id() AS current_tenant_id))`;
    const written =
      mode === 'citus' ? `${table.tenant_column} = app.current_tenant_id()` : `${table.tenant_column} = (SELECT app.current_tenant_id())`;
    const fix =
      mode === 'citus'
        ? `${ENABLE_RLS(table.name)}, then \`npm run cli -- tenant-policies --form citus\` (TENANT_CONTEXT_MODE=citus expects the Citus form)`
        : `${ENABLE_RLS(table.name)} (drop a hand-written tenant_isolation policy first)`;
    const isolating = table.policies.some((p) => !p.permissive && p.cmd === '*' && p.public && p.using === equality && p.check === equality);
    if (!isolating) {
      problems.push(
        `${table.name}: no RESTRICTIVE policy FOR ALL TO PUBLIC with USING and WITH CHECK exactly (${written}), so nothing confines its rows to one tenant. Fix: ${fix}.`,
      );
    }
  }
  return problems;
}

/** The tenant column is NOT NULL and defaults to the current tenant (`tenants.id` is provisioned, so exempt). */
export async function tenantColumnProblems(reader: CatalogReader): Promise<string[]> {
  const { rows } = await reader.query<{
    name: string;
    tenant_column: string;
    tenant_not_null: boolean;
    is_tenants: boolean;
    default: string | null;
  }>(`
    with ${TENANT_TABLES}
    select t.name, t.tenant_column, t.tenant_not_null, t.is_tenants,
           (select pg_get_expr(d.adbin, d.adrelid) from pg_attrdef d where d.adrelid = t.oid and d.adnum = t.tenant_attnum) as default
      from tenant_tables t order by t.name`);
  const problems: string[] = [];
  for (const t of rows) {
    if (!t.tenant_not_null)
      problems.push(
        `${t.name}: ${t.tenant_column} is nullable, and a row without a tenant belongs to no one's policy. Fix: ALTER TABLE ${t.name} ALTER COLUMN ${t.tenant_column} SET NOT NULL.`,
      );
    if (!t.is_tenants && t.default !== 'app.current_tenant_id()') {
      problems.push(
        `${t.name}: ${t.tenant_column} defaults to ${t.default ?? 'nothing'}, expected app.current_tenant_id(), so an insert that names no tenant gets the transaction's. Fix: ALTER TABLE ${t.name} ALTER COLUMN ${t.tenant_column} SET DEFAULT app.current_tenant_id().`,
      );
    }
  }
  return problems;
}

/**
 * Every primary key, unique constraint and unique index leads with the tenant column. Unique checks ignore RLS:
 * a key without the tenant would let one tenant learn (by a conflict) what another tenant stored.
 */
export async function keyProblems(reader: CatalogReader): Promise<string[]> {
  const { rows } = await reader.query<{ name: string; index: string; definition: string; tenant_column: string }>(
    `with ${TENANT_TABLES}
     select t.name, i.indexrelid::regclass::text as index, pg_get_indexdef(i.indexrelid) as definition, t.tenant_column
       from tenant_tables t join pg_index i on i.indrelid = t.oid
      where i.indkey[0] <> t.tenant_attnum and i.indisunique
        -- SECURITY: tenants.external_id (migrations/0012) must be unique across tenants, because a token names its
        -- tenant by it. A conflict can only be probed by a role that writes the table: allowed while neither the
        -- app role nor the operator may INSERT or UPDATE tenants.
        and not (t.is_tenants and coalesce(i.indexrelid = to_regclass('public.tenants_external_id_key'), false)
                 and not exists (select from pg_roles r where r.rolname in ('${APP_ROLE}', '${OPERATOR_ROLE}')
                                  and (has_table_privilege(r.oid, t.oid, 'INSERT, UPDATE') or has_any_column_privilege(r.oid, t.oid, 'INSERT, UPDATE'))))
      order by 1, 2`,
  );
  return rows.map(
    (r) =>
      `${r.name}: key ${r.index} does not lead with ${r.tenant_column} (${r.definition}), so its uniqueness crosses tenants. Fix: make it (${r.tenant_column}, …).`,
  );
}

/** Every other index leads with the tenant column too: RLS filters every statement by tenant first. */
export async function indexProblems(reader: CatalogReader): Promise<string[]> {
  const { rows } = await reader.query<{ name: string; index: string; definition: string; tenant_column: string }>(
    `with ${TENANT_TABLES}
     select t.name, i.indexrelid::regclass::text as index, pg_get_indexdef(i.indexrelid) as definition, t.tenant_column
       from tenant_tables t join pg_index i on i.indrelid = t.oid
      where i.indkey[0] <> t.tenant_attnum and not i.indisunique
      order by 1, 2`,
  );
  return rows.map(
    (r) =>
      `${r.name}: index ${r.index} does not lead with ${r.tenant_column} (${r.definition}), so a tenant's statement reads other tenants' entries. Fix: recreate it as (${r.tenant_column}, …).`,
  );
}

/** Every foreign key between tenant tables pairs the child's tenant column with the parent's (FK checks ignore RLS). */
export async function foreignKeyProblems(reader: CatalogReader): Promise<string[]> {
  const { rows } = await reader.query<{ name: string; constraint: string; definition: string; parent: string }>(`
    with ${TENANT_TABLES}
    select child.name, con.conname as constraint, pg_get_constraintdef(con.oid) as definition, parent.name as parent
      from pg_constraint con
      join tenant_tables child on child.oid = con.conrelid
      join tenant_tables parent on parent.oid = con.confrelid
     where con.contype = 'f'
       and not exists (select from unnest(con.conkey, con.confkey) as k(child_column, parent_column)
                        where k.child_column = child.tenant_attnum and k.parent_column = parent.tenant_attnum)
     order by 1, 2`);
  return rows.map(
    (r) =>
      `${r.name}: foreign key ${r.constraint} does not include the tenant column (${r.definition}), so a row could point at another tenant's row of ${r.parent}. Fix: FOREIGN KEY (tenant_id, …) REFERENCES ${r.parent} (tenant_id, …).`,
  );
}

/** Functions called by the policies of tenant tables, with their volatility. */
export async function listPolicyFunctions(reader: CatalogReader): Promise<{ fn: string; oid: number; volatility: string; policy: string }[]> {
  const { rows } = await reader.query<{ fn: string; oid: number; volatility: string; policy: string }>(`
    with ${TENANT_TABLES}
    select distinct d.refobjid::regprocedure::text as fn, d.refobjid::int as oid,
           case f.provolatile when 'i' then 'IMMUTABLE' when 's' then 'STABLE' else 'VOLATILE' end as volatility,
           format('%s on %s', p.polname, t.name) as policy
      from pg_policy p
      join tenant_tables t on t.oid = p.polrelid
      join pg_depend d on d.classid = 'pg_policy'::regclass and d.objid = p.oid and d.refclassid = 'pg_proc'::regclass
      join pg_proc f on f.oid = d.refobjid
     order by 1, 4`);
  return rows;
}

/** STABLE, never IMMUTABLE (a cached plan could freeze the first tenant) nor VOLATILE (evaluated per row). */
export async function policyFunctionProblems(reader: CatalogReader): Promise<string[]> {
  return (await listPolicyFunctions(reader))
    .filter((f) => f.volatility !== 'STABLE')
    .map((f) => `${f.fn}, called by policy ${f.policy}, is ${f.volatility}, not STABLE. Fix: ALTER FUNCTION ${f.fn} STABLE.`);
}

/**
 * The grants every tenant table needs whatever its module does: the app role may SELECT it, use its schema and
 * execute the functions its policies call. Without them every request touching it fails at run time.
 */
export async function grantProblems(reader: CatalogReader, role: string = APP_ROLE): Promise<string[]> {
  const { rows } = await reader.query<{ problem: string }>(
    `with ${TENANT_TABLES}
     select format('%s cannot SELECT from %s, so every request reading it fails with "permission denied". Fix: GRANT SELECT (and the DML its module needs) ON %s TO ${APP_ROLE}, ${OPERATOR_ROLE}.', $1::text, t.name, t.name) as problem
       from tenant_tables t where not has_table_privilege($1, t.oid, 'SELECT')
     union all
     select format('%s has no USAGE on schema %I, which holds the tenant table %s. Fix: GRANT USAGE ON SCHEMA %I TO ${APP_ROLE}, ${OPERATOR_ROLE}.', $1::text, t.schema, t.name, t.schema)
       from tenant_tables t where not has_schema_privilege($1, t.relnamespace, 'USAGE')
     union all
     select distinct format('%s may not execute %s, which the policies of tenant tables call. Fix: GRANT EXECUTE ON FUNCTION %s TO ${APP_ROLE}, ${OPERATOR_ROLE}.', $1::text, d.refobjid::regprocedure, d.refobjid::regprocedure)
       from pg_policy p join tenant_tables t on t.oid = p.polrelid
       join pg_depend d on d.classid = 'pg_policy'::regclass and d.objid = p.oid and d.refclassid = 'pg_proc'::regclass
      where not has_function_privilege($1, d.refobjid, 'EXECUTE')
     order by 1`,
    [role],
  );
  return rows.map((r) => r.problem);
}

/**
 * The role owns nothing, bypasses nothing, can become no one who does, and reaches no relation that is not a
 * tenant table, except two deliberate kinds: shared reference data (plan_limits, migrations/0008: a plain table
 * commented `Shared reference data: …`, read-only for the role, referring to no other table) and insert-only
 * sinks (refused_context_switches, migrations/0006: INSERT only, no SELECT so no RETURNING, and no free text).
 * Views are judged by {@link rlsBypassProblems}.
 */
export async function roleProblems(reader: CatalogReader, role: string = APP_ROLE): Promise<string[]> {
  const problems: string[] = [];
  const {
    rows: [attributes],
  } = await reader.query<{ rolsuper: boolean; rolbypassrls: boolean; rolcreaterole: boolean }>(
    'select rolsuper, rolbypassrls, rolcreaterole from pg_roles where rolname = $1',
    [role],
  );
  if (!attributes) return [`role ${role} does not exist. Fix: run the migrations (npm run migrate) as the owner.`];
  const alter = `Fix: ALTER ROLE ${role} NOSUPERUSER NOBYPASSRLS NOCREATEROLE.`;
  if (attributes.rolsuper) problems.push(`${role} is a superuser, so Row Level Security does not apply to it. ${alter}`);
  if (attributes.rolbypassrls) problems.push(`${role} has BYPASSRLS, so Row Level Security does not apply to it. ${alter}`);
  if (attributes.rolcreaterole) problems.push(`${role} has CREATEROLE, so it could make itself a role that bypasses RLS. ${alter}`);

  const owned = await reader.query<{ object: string }>(
    `select format('table %s', oid::regclass) as object from pg_class where relowner = $1::regrole::oid
     union all select format('function %s', oid::regprocedure) from pg_proc where proowner = $1::regrole::oid
     union all select format('schema %I', nspname) from pg_namespace where nspowner = $1::regrole::oid
     union all select format('type %s', oid::regtype) from pg_type where typowner = $1::regrole::oid
     union all select format('database %I', datname) from pg_database where datdba = $1::regrole::oid
     -- Everything else it could own (sequences' owners are in pg_class; these are e.g. operators, casts).
     union all select format('object %s/%s', classid::regclass, objid) from pg_shdepend
                where refobjid = $1::regrole::oid and deptype = 'o'
                  and dbid in (0, (select oid from pg_database where datname = current_database()))
                  and classid not in ('pg_class'::regclass, 'pg_proc'::regclass, 'pg_namespace'::regclass, 'pg_type'::regclass, 'pg_database'::regclass)
     order by 1`,
    [role],
  );
  for (const { object } of owned.rows) {
    problems.push(
      `${role} owns ${object}; owners can disable or bypass Row Level Security. Fix: ALTER … OWNER TO the owner role (the one in DATABASE_URL).`,
    );
  }

  const privileged = await reader.query<{ rolname: string; reason: string }>(
    `select r.rolname, concat_ws(', ', case when r.rolsuper then 'superuser' end, case when r.rolbypassrls then 'BYPASSRLS' end,
                                 case when exists (select from pg_class c where c.relowner = r.oid) then 'owns tables' end) as reason
       from pg_roles r
      where r.rolname <> $1 and pg_has_role($1, r.oid, 'MEMBER')
        and (r.rolsuper or r.rolbypassrls or exists (select from pg_class c where c.relowner = r.oid))
      order by 1`,
    [role],
  );
  for (const r of privileged.rows)
    problems.push(`${role} is a member of ${r.rolname} (${r.reason}), so it can act past Row Level Security. Fix: REVOKE ${r.rolname} FROM ${role}.`);

  const reachable = await reader.query<{ relation: string; relkind: string }>(
    `with ${TENANT_TABLES}
     select c.oid::regclass::text as relation, c.relkind
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where c.relkind in ('r', 'p', 'm', 'f')
        and n.nspname not in ('pg_catalog', 'information_schema') and n.nspname !~ '^pg_(toast|temp)'
        and (has_table_privilege($1, c.oid, 'SELECT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER')
             or has_any_column_privilege($1, c.oid, 'SELECT, UPDATE, REFERENCES')
             or (c.relkind <> 'r' and (has_table_privilege($1, c.oid, 'INSERT') or has_any_column_privilege($1, c.oid, 'INSERT'))))
        and c.oid not in (select oid from tenant_tables)
        and not (c.relkind = 'r'
                 and coalesce(obj_description(c.oid, 'pg_class'), '') like 'Shared reference data:%'
                 and not has_table_privilege($1, c.oid, 'INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER')
                 and not has_any_column_privilege($1, c.oid, 'INSERT, UPDATE, REFERENCES')
                 and not exists (select from pg_constraint f where f.conrelid = c.oid and f.contype = 'f'))
      order by 1`,
    [role],
  );
  for (const r of reachable.rows) {
    problems.push(
      `${role} can read or change ${r.relation} (relkind ${r.relkind}), which is not a tenant table, so no tenant policy applies there. Fix: revoke everything but INSERT (an insert-only sink), or make it a tenant table (a tenant_id column and app.enable_tenant_rls), or mark read-only shared reference data with COMMENT ON TABLE … IS 'Shared reference data: …'.`,
    );
  }

  // SECURITY: what the role may insert into such a sink holds no tenant data: every column it may write is an id,
  // a time, a number or a boolean, or text constrained by a CHECK, never free text (a message body, a title).
  const freeText = await reader.query<{ relation: string; column: string; type: string }>(
    `with ${TENANT_TABLES}
     select c.oid::regclass::text as relation, a.attname as column, format_type(a.atttypid, a.atttypmod) as type
       from pg_class c
       join pg_namespace n on n.oid = c.relnamespace
       join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
      where c.relkind in ('r', 'p')
        and n.nspname not in ('pg_catalog', 'information_schema') and n.nspname !~ '^pg_(toast|temp)'
        and c.oid not in (select oid from tenant_tables)
        and has_column_privilege($1, c.oid, a.attnum, 'INSERT')
        and (a.atttypid not in ('bigint'::regtype, 'integer'::regtype, 'smallint'::regtype, 'uuid'::regtype, 'timestamptz'::regtype, 'boolean'::regtype)
             and not exists (select from pg_constraint k where k.conrelid = c.oid and k.contype = 'c' and k.conkey = array[a.attnum]))
      order by 1, 2`,
    [role],
  );
  for (const r of freeText.rows) {
    problems.push(
      `${role} may insert free text into ${r.relation}.${r.column} (${r.type}), which is not a tenant table. Fix: constrain it with a CHECK, or make it a tenant table.`,
    );
  }
  return problems;
}

/**
 * SECURITY: the one SECURITY DEFINER function the app role may execute (migrations/0012): it maps a token's
 * external tenant id to the tenant's id before the tenant is set, which RLS alone cannot do. Allowed only with
 * exactly this signature, returning a bigint, STABLE and with its search_path pinned; the operator role may not
 * execute it (see {@link operatorRoleProblems}).
 */
export const TENANT_RESOLVER = 'app.tenant_id_by_external_id(text)';

/**
 * What the role can reach that runs with someone else's rights and so skips its Row Level Security: SECURITY
 * DEFINER functions it may execute (the operator's claim function of migrations/0007 is executable by
 * tenantgraph_operator alone), and views without `security_invoker` (a view reads its tables as the view's owner,
 * and a migration running as a superuser makes one that reads every tenant's rows). Views with
 * `security_invoker = true` read as the caller, under the caller's policies, and are allowed.
 */
export async function rlsBypassProblems(reader: CatalogReader, role: string = APP_ROLE): Promise<string[]> {
  const { rows } = await reader.query<{ problem: string }>(
    `select format('%s may execute SECURITY DEFINER function %s, which runs as its owner and so bypasses Row Level Security. Fix: REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC, %s (or make it SECURITY INVOKER).', $1::text, p.oid::regprocedure, p.oid::regprocedure, $1::text) as problem
       from pg_proc p join pg_namespace n on n.oid = p.pronamespace
      where p.prosecdef and n.nspname not in ('pg_catalog', 'information_schema') and has_function_privilege($1, p.oid, 'EXECUTE')
        and not (coalesce(p.oid = to_regprocedure('${TENANT_RESOLVER}'), false) and p.prorettype = 'bigint'::regtype and p.provolatile = 's'
                 -- coalesce: without a search_path proconfig is NULL, and NULL here would let it pass (fail open).
                 and coalesce(p.proconfig = array['search_path=pg_catalog, pg_temp'], false))
     union all
     select format('%s can use view %s, which lacks security_invoker, so it reads its tables as its owner past Row Level Security. Fix: ALTER VIEW %s SET (security_invoker = true), or revoke it.', $1::text, c.oid::regclass, c.oid::regclass)
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where c.relkind = 'v'
        and n.nspname not in ('pg_catalog', 'information_schema') and n.nspname !~ '^pg_(toast|temp)'
        and (has_table_privilege($1, c.oid, 'SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER')
             or has_any_column_privilege($1, c.oid, 'SELECT, INSERT, UPDATE, REFERENCES'))
        and not coalesce((select o.option_value::boolean from pg_options_to_table(c.reloptions) o where o.option_name = 'security_invoker'), false)
     order by 1`,
    [role],
  );
  return rows.map((r) => r.problem);
}

/** Every privilege a role holds directly on schemas, relations, columns and functions, as sortable text. */
const PRIVILEGES = `
  select format('schema %I: %s', n.nspname, a.privilege_type) as privilege
    from pg_namespace n, aclexplode(n.nspacl) a where a.grantee = $1::regrole
  union all select format('%s: %s', c.oid::regclass, a.privilege_type)
    from pg_class c, aclexplode(c.relacl) a where a.grantee = $1::regrole
  union all select format('%s.%I: %s', att.attrelid::regclass, att.attname, a.privilege_type)
    from pg_attribute att, aclexplode(att.attacl) a where a.grantee = $1::regrole
  union all select format('function %s: %s', p.oid::regprocedure, a.privilege_type)
    from pg_proc p, aclexplode(p.proacl) a where a.grantee = $1::regrole`;

/** What the operator role holds beyond the app role's rights: reading its own binding, redeeming a psql token. */
const OPERATOR_ONLY = ['app.operator_sessions: SELECT', 'function app.claim_operator_session(uuid,timestamp with time zone): EXECUTE'];

/** What the app role holds that the operator must not: resolving external tenant ids (the operator's tenant is bound). */
const APP_ONLY = [`function ${TENANT_RESOLVER}: EXECUTE`];

/**
 * SECURITY: the operator role (`cli sql`, migrations/0007) is confined only while it can become no one else,
 * create nothing that could stand in for our functions, and holds exactly the app role's rights plus its
 * binding; app.operator_sessions is written by the owner alone, and the app role cannot touch it.
 */
export async function operatorRoleProblems(reader: CatalogReader): Promise<string[]> {
  const problems: string[] = [];
  const {
    rows: [role],
  } = await reader.query<{ rolsuper: boolean; rolbypassrls: boolean; rolcreaterole: boolean; rolcreatedb: boolean }>(
    'select rolsuper, rolbypassrls, rolcreaterole, rolcreatedb from pg_roles where rolname = $1',
    [OPERATOR_ROLE],
  );
  if (!role) return [`role ${OPERATOR_ROLE} does not exist. Fix: run the migrations (npm run migrate) as the owner.`];
  for (const [attribute, has] of Object.entries({
    SUPERUSER: role.rolsuper,
    BYPASSRLS: role.rolbypassrls,
    CREATEROLE: role.rolcreaterole,
    CREATEDB: role.rolcreatedb,
  })) {
    if (has) problems.push(`${OPERATOR_ROLE} has ${attribute}. Fix: ALTER ROLE ${OPERATOR_ROLE} NO${attribute}.`);
  }
  const memberships = await reader.query<{ rolname: string }>(
    `select m.rolname from pg_roles m where m.rolname <> $1 and pg_has_role($1, m.oid, 'MEMBER') order by 1`,
    [OPERATOR_ROLE],
  );
  for (const m of memberships.rows)
    problems.push(
      `${OPERATOR_ROLE} is a member of ${m.rolname}, so SET ROLE could leave its confinement. Fix: REVOKE ${m.rolname} FROM ${OPERATOR_ROLE}.`,
    );
  const creatable = await reader.query<{ name: string }>(
    `select format('schema %I', nspname) as name from pg_namespace
      where nspname !~ '^pg_(toast_)?temp_' and has_schema_privilege($1, oid, 'CREATE')
     union all select format('database %I', current_database()) where has_database_privilege($1, current_database(), 'CREATE')
     order by 1`,
    [OPERATOR_ROLE],
  );
  for (const c of creatable.rows)
    problems.push(`${OPERATOR_ROLE} may create objects in ${c.name}. Fix: REVOKE CREATE ON ${c.name} FROM ${OPERATOR_ROLE}.`);
  // Its temporary tables are its own session's (`cli sql` may create them) and vanish with it.
  const owned = await reader.query<{ name: string }>(
    `select c.oid::regclass::text as name from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where c.relowner = $1::regrole::oid and n.nspname !~ '^pg_(toast_)?temp_' order by 1`,
    [OPERATOR_ROLE],
  );
  for (const o of owned.rows) problems.push(`${OPERATOR_ROLE} owns ${o.name}. Fix: ALTER TABLE ${o.name} OWNER TO the owner role.`);

  const privileges = async (grantee: string) =>
    new Set((await reader.query<{ privilege: string }>(PRIVILEGES, [grantee])).rows.map((r) => r.privilege));
  const [app, operator] = [await privileges(APP_ROLE), await privileges(OPERATOR_ROLE)];
  const expected = new Set([...[...app].filter((p) => !APP_ONLY.includes(p)), ...OPERATOR_ONLY]);
  for (const p of [...expected].filter((p) => !operator.has(p)).sort())
    problems.push(`${OPERATOR_ROLE} lacks ${p}, which the app role holds. Fix: grant it to both.`);
  for (const p of [...operator].filter((p) => !expected.has(p)).sort())
    problems.push(`${OPERATOR_ROLE} holds ${p} beyond the app role's rights. Fix: revoke it, or grant it to both.`);
  for (const p of [...app].filter((p) => p.startsWith('app.operator_sessions') || p.includes('claim_operator_session'))) {
    problems.push(`${APP_ROLE} holds ${p}; only the owner writes operator bindings. Fix: revoke it.`);
  }
  const writers = await reader.query<{ role: string }>(
    `select r.rolname as role from pg_roles r
      where not r.rolsuper and r.rolname !~ '^pg_' -- predefined roles (pg_write_all_data) grant nothing by themselves
        and r.oid <> (select relowner from pg_class where oid = 'app.operator_sessions'::regclass)
        and has_table_privilege(r.oid, 'app.operator_sessions', 'INSERT, UPDATE, DELETE, TRUNCATE') order by 1`,
  );
  for (const w of writers.rows)
    problems.push(
      `${w.role} may write app.operator_sessions; only the owner may. Fix: REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON app.operator_sessions FROM ${w.role}.`,
    );
  return problems;
}

/** One catalog check: a name for reports and tests, and the check itself (`role`: the role the API connects as). */
export interface CatalogCheck {
  name: string;
  run(reader: CatalogReader, role: string, mode?: TenantContextMode): Promise<string[]>;
}

/** Every check, in the order start-up reports them. */
export const CATALOG_CHECKS: readonly CatalogCheck[] = [
  { name: 'row security', run: (reader, _role, mode) => rowSecurityProblems(reader, mode) },
  { name: 'tenant column', run: (reader) => tenantColumnProblems(reader) },
  { name: 'keys', run: (reader) => keyProblems(reader) },
  { name: 'foreign keys', run: (reader) => foreignKeyProblems(reader) },
  { name: 'indexes', run: (reader) => indexProblems(reader) },
  { name: 'policy functions', run: (reader) => policyFunctionProblems(reader) },
  { name: 'grants', run: (reader, role) => grantProblems(reader, role) },
  { name: 'role', run: (reader, role) => roleProblems(reader, role) },
  { name: 'RLS bypass', run: (reader, role) => rlsBypassProblems(reader, role) },
  { name: 'operator role', run: (reader) => operatorRoleProblems(reader) },
];

/** Runs every check of {@link CATALOG_CHECKS} and returns all their problems (empty: the catalog is sound). */
export async function findCatalogProblems(source: CatalogSource, role: string = APP_ROLE, mode: TenantContextMode = 'standard'): Promise<string[]> {
  const reader = catalogReader(source);
  const problems: string[] = [];
  for (const check of CATALOG_CHECKS) problems.push(...(await check.run(reader, role, mode)));
  return problems;
}
