import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { snapshotTenants, withAppClient, withOwnerClient } from '../support/owner-db.js';
import { createTestTenant, type TestTenant } from '../support/tenants.js';

// The database's own description of itself (pg_catalog) must show that every tenant table is isolated by Row
// Level Security and that the app role cannot get around it. Each check returns human-readable problems; each
// has a negative control that builds a broken object inside a transaction that is rolled back, and shows the
// same check reports it. So a new table added without the checklist of migrations/0002 breaks the build.

const APP_ROLE = 'tenantgraph_app';
const OPERATOR_ROLE = 'tenantgraph_operator';

/**
 * Tenant tables: every table outside the system schemas with a `tenant_id` column, and `tenants` itself, with
 * the column that holds the tenant (`tenant_id`, or `id` for `tenants`).
 */
const TENANT_TABLES = `
  tenant_tables as (
    select c.oid, format('%I.%I', n.nspname, c.relname) as name, c.relrowsecurity, c.relforcerowsecurity,
           a.attnum as tenant_attnum, a.attname as tenant_column, a.attnotnull as tenant_not_null
      from pg_class c
      join pg_namespace n on n.oid = c.relnamespace
      join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
           and (a.attname = 'tenant_id' or (n.nspname = 'public' and c.relname = 'tenants' and a.attname = 'id'))
     where c.relkind in ('r', 'p')
       and n.nspname not in ('pg_catalog', 'information_schema') and n.nspname !~ '^pg_(toast|temp)')`;

async function tenantTables(client: pg.ClientBase): Promise<string[]> {
  const { rows } = await client.query<{ name: string }>(`with ${TENANT_TABLES} select name from tenant_tables order by name`);
  return rows.map((r) => r.name);
}

/** ENABLE + FORCE ROW LEVEL SECURITY, a NOT NULL tenant column, and a RESTRICTIVE tenant-equality policy. */
async function rowSecurityProblems(client: pg.ClientBase): Promise<string[]> {
  const { rows } = await client.query<{
    name: string;
    tenant_column: string;
    relrowsecurity: boolean;
    relforcerowsecurity: boolean;
    tenant_not_null: boolean;
    policies: { permissive: boolean; cmd: string; roles: string[]; using: string | null; check: string | null }[];
  }>(`
    with ${TENANT_TABLES}
    select t.name, t.tenant_column, t.relrowsecurity, t.relforcerowsecurity, t.tenant_not_null,
           coalesce((select json_agg(json_build_object(
                       'permissive', p.polpermissive, 'cmd', p.polcmd,
                       'roles', (select coalesce(array_agg(case when r = 0 then 'public' else pg_get_userbyid(r)::text end), '{}') from unnest(p.polroles) r),
                       'using', pg_get_expr(p.polqual, p.polrelid), 'check', pg_get_expr(p.polwithcheck, p.polrelid)))
                       from pg_policy p where p.polrelid = t.oid), '[]') as policies
      from tenant_tables t order by t.name`);
  const problems: string[] = [];
  for (const table of rows) {
    if (!table.relrowsecurity) problems.push(`${table.name}: ROW LEVEL SECURITY is not enabled`);
    if (!table.relforcerowsecurity) problems.push(`${table.name}: ROW LEVEL SECURITY is not forced (the owner would bypass it)`);
    if (!table.tenant_not_null) problems.push(`${table.name}: ${table.tenant_column} is nullable`);
    if (table.policies.length === 0) problems.push(`${table.name}: has no policy`);
    // SECURITY: the tenant predicate must be RESTRICTIVE (a permissive policy added later cannot widen it), for
    // every command and role, on both USING and WITH CHECK, with the setting read once per statement.
    const predicate = new RegExp(`^\\(${table.tenant_column} = \\( SELECT app\\.current_tenant_id\\(\\) AS current_tenant_id\\)\\)$`);
    const isolating = table.policies.some(
      (p) => !p.permissive && p.cmd === '*' && p.roles.includes('public') && predicate.test(p.using ?? '') && predicate.test(p.check ?? ''),
    );
    if (!isolating) {
      problems.push(`${table.name}: no RESTRICTIVE policy FOR ALL TO PUBLIC with USING and WITH CHECK (${table.tenant_column} = (SELECT app.current_tenant_id()))`);
    }
  }
  return problems;
}

/** Every index (`unique` = only primary keys and unique indexes) leads with the tenant column. */
async function indexProblems(client: pg.ClientBase, unique: boolean): Promise<string[]> {
  const { rows } = await client.query<{ name: string; index: string; definition: string }>(
    `with ${TENANT_TABLES}
     select t.name, i.indexrelid::regclass::text as index, pg_get_indexdef(i.indexrelid) as definition
       from tenant_tables t join pg_index i on i.indrelid = t.oid
      where i.indkey[0] <> t.tenant_attnum and ($1 = false or i.indisunique or i.indisprimary)
      order by 1, 2`,
    [unique],
  );
  return rows.map((r) => `${r.name}: ${unique ? 'key' : 'index'} ${r.index} does not lead with the tenant column (${r.definition})`);
}

/** Every foreign key between tenant tables pairs the child's tenant column with the parent's. */
async function foreignKeyProblems(client: pg.ClientBase): Promise<string[]> {
  const { rows } = await client.query<{ name: string; constraint: string; definition: string }>(`
    with ${TENANT_TABLES}
    select child.name, con.conname as constraint, pg_get_constraintdef(con.oid) as definition
      from pg_constraint con
      join tenant_tables child on child.oid = con.conrelid
      join tenant_tables parent on parent.oid = con.confrelid
     where con.contype = 'f'
       and not exists (select from unnest(con.conkey, con.confkey) as k(child_column, parent_column)
                        where k.child_column = child.tenant_attnum and k.parent_column = parent.tenant_attnum)
     order by 1, 2`);
  return rows.map((r) => `${r.name}: foreign key ${r.constraint} does not include the tenant column (${r.definition})`);
}

/** Functions that policies of tenant tables call, with their volatility. */
async function policyFunctions(client: pg.ClientBase): Promise<{ fn: string; volatility: string; policy: string }[]> {
  const { rows } = await client.query<{ fn: string; volatility: string; policy: string }>(`
    with ${TENANT_TABLES}
    select distinct d.refobjid::regprocedure::text as fn,
           case f.provolatile when 'i' then 'IMMUTABLE' when 's' then 'STABLE' else 'VOLATILE' end as volatility,
           format('%s on %s', p.polname, t.name) as policy
      from pg_policy p
      join tenant_tables t on t.oid = p.polrelid
      join pg_depend d on d.classid = 'pg_policy'::regclass and d.objid = p.oid and d.refclassid = 'pg_proc'::regclass
      join pg_proc f on f.oid = d.refobjid
     order by 1, 3`);
  return rows;
}

/** STABLE, never IMMUTABLE: a cached plan could freeze an immutable function's first tenant. */
async function policyFunctionProblems(client: pg.ClientBase): Promise<string[]> {
  return (await policyFunctions(client))
    .filter((f) => f.volatility !== 'STABLE')
    .map((f) => `${f.fn}, called by policy ${f.policy}, is ${f.volatility}, not STABLE`);
}

/** The app role owns nothing, bypasses nothing, can become no one who does, and reaches only tenant tables. */
async function appRoleProblems(client: pg.ClientBase): Promise<string[]> {
  const problems: string[] = [];
  const { rows: [role] } = await client.query<{ rolsuper: boolean; rolbypassrls: boolean; rolcreaterole: boolean }>(
    'select rolsuper, rolbypassrls, rolcreaterole from pg_roles where rolname = $1',
    [APP_ROLE],
  );
  if (!role) return [`role ${APP_ROLE} does not exist`];
  if (role.rolsuper) problems.push(`${APP_ROLE} is a superuser`);
  if (role.rolbypassrls) problems.push(`${APP_ROLE} has BYPASSRLS`);
  if (role.rolcreaterole) problems.push(`${APP_ROLE} has CREATEROLE`);

  const owned = await client.query<{ object: string }>(
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
    [APP_ROLE],
  );
  for (const { object } of owned.rows) problems.push(`${APP_ROLE} owns ${object}`);

  // Roles it is a member of (so could SET ROLE to or inherit from) must not own tables or bypass RLS.
  const roles = await client.query<{ rolname: string; reason: string }>(
    `select r.rolname, concat_ws(', ', case when r.rolsuper then 'superuser' end, case when r.rolbypassrls then 'BYPASSRLS' end,
                                 case when exists (select from pg_class c where c.relowner = r.oid) then 'owns tables' end) as reason
       from pg_roles r
      where r.rolname <> $1 and pg_has_role($1, r.oid, 'MEMBER')
        and (r.rolsuper or r.rolbypassrls or exists (select from pg_class c where c.relowner = r.oid))`,
    [APP_ROLE],
  );
  for (const r of roles.rows) problems.push(`${APP_ROLE} is a member of ${r.rolname} (${r.reason})`);

  // Anything it can read or write that is not a tenant table: a view or a plain table would bypass the policies.
  // Two exceptions: shared reference data (plan_limits, migrations/0008): a plain table whose comment says so,
  // that the app role may only read, and that refers to no other table (so it cannot hold tenant rows' keys);
  // and an append-only sink (refused_context_switches, migrations/0006): rows that belong to no
  // tenant, which the app role may only INSERT — no SELECT (so no RETURNING), UPDATE, DELETE, TRUNCATE,
  // REFERENCES or TRIGGER, on the table or any column — so nothing written there can be read back through the
  // app role, and no tenant's data can be changed or seen through it.
  const reachable = await client.query<{ relation: string; relkind: string }>(
    `with ${TENANT_TABLES}
     select c.oid::regclass::text as relation, c.relkind
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where c.relkind in ('r', 'p', 'v', 'm', 'f')
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
    [APP_ROLE],
  );
  for (const r of reachable.rows) problems.push(`${APP_ROLE} can access ${r.relation} (relkind ${r.relkind}), which is not a tenant table`);

  // SECURITY: what the app role may insert into such a sink holds no tenant data: every column it may write is
  // an id, a time or a number, or text constrained by a CHECK, never free text (a message body, a title).
  const freeText = await client.query<{ relation: string; column: string; type: string }>(
    `with ${TENANT_TABLES}
     select c.oid::regclass::text as relation, a.attname as column, format_type(a.atttypid, a.atttypmod) as type
       from pg_class c
       join pg_namespace n on n.oid = c.relnamespace
       join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
      where n.nspname not in ('pg_catalog', 'information_schema') and n.nspname !~ '^pg_(toast|temp)'
        and c.oid not in (select oid from tenant_tables)
        and has_column_privilege($1, c.oid, a.attnum, 'INSERT')
        and (a.atttypid not in ('bigint'::regtype, 'integer'::regtype, 'smallint'::regtype, 'uuid'::regtype, 'timestamptz'::regtype, 'boolean'::regtype)
             and not exists (select from pg_constraint k where k.conrelid = c.oid and k.contype = 'c' and k.conkey = array[a.attnum]))
      order by 1, 2`,
    [APP_ROLE],
  );
  for (const r of freeText.rows) {
    problems.push(`${APP_ROLE} may insert free text into ${r.relation}.${r.column} (${r.type}), which is not a tenant table: constrain it with a CHECK or make it a tenant table`);
  }

  // A SECURITY DEFINER function runs as its owner, and so bypasses RLS for whoever may call it.
  const definers = await client.query<{ fn: string }>(
    `select p.oid::regprocedure::text as fn from pg_proc p join pg_namespace n on n.oid = p.pronamespace
      where p.prosecdef and n.nspname not in ('pg_catalog', 'information_schema') and has_function_privilege($1, p.oid, 'EXECUTE')
      order by 1`,
    [APP_ROLE],
  );
  for (const d of definers.rows) problems.push(`${APP_ROLE} may call SECURITY DEFINER function ${d.fn}`);
  return problems;
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

/**
 * SECURITY: the operator role (`cli sql`, migrations/0007) is confined only while it can become no one else,
 * create nothing that could stand in for our functions, and holds exactly the app role's rights plus its
 * binding; app.operator_sessions is written by the owner alone, and the app role cannot touch it.
 */
async function operatorRoleProblems(client: pg.ClientBase): Promise<string[]> {
  const problems: string[] = [];
  const { rows: [role] } = await client.query<{ rolsuper: boolean; rolbypassrls: boolean; rolcreaterole: boolean; rolcreatedb: boolean }>(
    'select rolsuper, rolbypassrls, rolcreaterole, rolcreatedb from pg_roles where rolname = $1',
    [OPERATOR_ROLE],
  );
  if (!role) return [`role ${OPERATOR_ROLE} does not exist`];
  for (const [attribute, has] of Object.entries({ SUPERUSER: role.rolsuper, BYPASSRLS: role.rolbypassrls, CREATEROLE: role.rolcreaterole, CREATEDB: role.rolcreatedb })) {
    if (has) problems.push(`${OPERATOR_ROLE} has ${attribute}`);
  }
  const memberships = await client.query<{ rolname: string }>(
    `select m.rolname from pg_roles m where m.rolname <> $1 and pg_has_role($1, m.oid, 'MEMBER') order by 1`,
    [OPERATOR_ROLE],
  );
  for (const m of memberships.rows) problems.push(`${OPERATOR_ROLE} is a member of ${m.rolname}, so SET ROLE could leave its confinement`);
  const creatable = await client.query<{ name: string }>(
    `select format('schema %I', nspname) as name from pg_namespace
      where nspname !~ '^pg_(toast_)?temp_' and has_schema_privilege($1, oid, 'CREATE')
     union all select format('database %I', current_database()) where has_database_privilege($1, current_database(), 'CREATE')
     order by 1`,
    [OPERATOR_ROLE],
  );
  for (const c of creatable.rows) problems.push(`${OPERATOR_ROLE} may create objects in ${c.name}`);
  const owned = await client.query<{ name: string }>(`select oid::regclass::text as name from pg_class where relowner = $1::regrole::oid`, [OPERATOR_ROLE]);
  for (const o of owned.rows) problems.push(`${OPERATOR_ROLE} owns ${o.name}`);

  const privileges = async (grantee: string) => new Set((await client.query<{ privilege: string }>(PRIVILEGES, [grantee])).rows.map((r) => r.privilege));
  const [app, operator] = [await privileges(APP_ROLE), await privileges(OPERATOR_ROLE)];
  const expected = new Set([...app, ...OPERATOR_ONLY]);
  for (const p of [...expected].filter((p) => !operator.has(p)).sort()) problems.push(`${OPERATOR_ROLE} lacks ${p}, which the app role holds: grant it to both`);
  for (const p of [...operator].filter((p) => !expected.has(p)).sort()) problems.push(`${OPERATOR_ROLE} holds ${p} beyond the app role's rights`);
  for (const p of [...app].filter((p) => p.startsWith('app.operator_sessions') || p.includes('claim_operator_session'))) {
    problems.push(`${APP_ROLE} holds ${p}; only the owner writes operator bindings`);
  }
  const writers = await client.query<{ role: string }>(
    `select r.rolname as role from pg_roles r
      where not r.rolsuper and r.rolname !~ '^pg_' -- predefined roles (pg_write_all_data) grant nothing by themselves
        and r.oid <> (select relowner from pg_class where oid = 'app.operator_sessions'::regclass)
        and has_table_privilege(r.oid, 'app.operator_sessions', 'INSERT, UPDATE, DELETE, TRUNCATE') order by 1`,
  );
  for (const w of writers.rows) problems.push(`${w.role} may write app.operator_sessions; only the owner may`);
  return problems;
}

/** Runs `work` as the owner inside a transaction that is always rolled back. */
function inRolledBackTransaction<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  return withOwnerClient(async (client) => {
    await client.query('begin');
    try {
      return await work(client);
    } finally {
      await client.query('rollback');
    }
  });
}

function scratchName(): string {
  return `scratch_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
}

describe('tenant tables (pg_catalog)', () => {
  it('include at least tenants, users, conversations and messages', async () => {
    const tables = await withOwnerClient(tenantTables);
    expect(tables).toEqual(expect.arrayContaining(['public.tenants', 'public.users', 'public.conversations', 'public.messages']));
  });

  it('have RLS enabled and forced, a NOT NULL tenant column and a RESTRICTIVE tenant policy', async () => {
    expect(await withOwnerClient(rowSecurityProblems)).toEqual([]);
  });

  it('reports a new tenant table without RLS, and one with only a permissive policy (negative control)', async () => {
    const bare = scratchName();
    const permissive = scratchName();
    const problems = await inRolledBackTransaction(async (client) => {
      await client.query(`create table public.${bare} (tenant_id bigint, body text)`);
      await client.query(`create table public.${permissive} (tenant_id bigint not null, body text)`);
      await client.query(`alter table public.${permissive} enable row level security`);
      await client.query(`alter table public.${permissive} force row level security`);
      await client.query(`create policy open on public.${permissive} using (tenant_id = (select app.current_tenant_id()))`);
      expect(await tenantTables(client)).toEqual(expect.arrayContaining([`public.${bare}`, `public.${permissive}`]));
      return rowSecurityProblems(client);
    });
    expect(problems.sort()).toEqual(
      [
        `public.${bare}: ROW LEVEL SECURITY is not enabled`,
        `public.${bare}: ROW LEVEL SECURITY is not forced (the owner would bypass it)`,
        `public.${bare}: tenant_id is nullable`,
        `public.${bare}: has no policy`,
        `public.${bare}: no RESTRICTIVE policy FOR ALL TO PUBLIC with USING and WITH CHECK (tenant_id = (SELECT app.current_tenant_id()))`,
        `public.${permissive}: no RESTRICTIVE policy FOR ALL TO PUBLIC with USING and WITH CHECK (tenant_id = (SELECT app.current_tenant_id()))`,
      ].sort(),
    );
    expect(await withOwnerClient(tenantTables)).not.toContain(`public.${bare}`);
  });
});

describe('keys and indexes of tenant tables (pg_catalog)', () => {
  it('lead every primary key and unique index with the tenant column', async () => {
    expect(await withOwnerClient((client) => indexProblems(client, true))).toEqual([]);
  });

  it('lead every index with the tenant column', async () => {
    expect(await withOwnerClient((client) => indexProblems(client, false))).toEqual([]);
  });

  it('include the tenant column in every foreign key between tenant tables', async () => {
    expect(await withOwnerClient(foreignKeyProblems)).toEqual([]);
  });

  it('reports a key, an index and a foreign key without the tenant column (negative control)', async () => {
    const parent = scratchName();
    const child = scratchName();
    const { keys, indexes, foreignKeys } = await inRolledBackTransaction(async (client) => {
      await client.query(`create table public.${parent} (tenant_id bigint not null, id uuid not null, primary key (tenant_id, id), unique (id))`);
      await client.query(`create table public.${child} (tenant_id bigint not null, parent_id uuid references public.${parent} (id), created_at timestamptz)`);
      await client.query(`create index ${child}_created_idx on public.${child} (created_at, tenant_id)`);
      return {
        keys: await indexProblems(client, true),
        indexes: await indexProblems(client, false),
        foreignKeys: await foreignKeyProblems(client),
      };
    });
    expect(keys).toEqual([expect.stringMatching(new RegExp(`^public\\.${parent}: key ${parent}_id_key does not lead`))]);
    expect(indexes).toHaveLength(2);
    expect(indexes).toEqual(
      expect.arrayContaining([
        expect.stringMatching(new RegExp(`^public\\.${child}: index ${child}_created_idx does not lead`)),
        expect.stringMatching(new RegExp(`^public\\.${parent}: index ${parent}_id_key does not lead`)),
      ]),
    );
    expect(foreignKeys).toEqual([expect.stringMatching(new RegExp(`^public\\.${child}: foreign key ${child}_parent_id_fkey does not include`))]);
  });
});

describe('functions called by tenant policies (pg_catalog)', () => {
  it('are STABLE, never IMMUTABLE', async () => {
    const functions = await withOwnerClient(policyFunctions);
    expect(functions.map((f) => f.fn)).toContain('app.current_tenant_id()');
    expect(await withOwnerClient(policyFunctionProblems)).toEqual([]);
  });

  it('reports an IMMUTABLE function used by a policy (negative control)', async () => {
    const table = scratchName();
    const problems = await inRolledBackTransaction(async (client) => {
      await client.query(`create function app.${table}_tenant() returns bigint language sql immutable as 'select 1::bigint'`);
      await client.query(`create table public.${table} (tenant_id bigint not null)`);
      await client.query(`create policy frozen on public.${table} as restrictive using (tenant_id = (select app.${table}_tenant()))`);
      return policyFunctionProblems(client);
    });
    expect(problems).toEqual([`app.${table}_tenant(), called by policy frozen on public.${table}, is IMMUTABLE, not STABLE`]);
  });
});

describe(`role ${APP_ROLE} (pg_catalog)`, () => {
  it('owns nothing, is no superuser, has no BYPASSRLS, can become no privileged role and reaches only tenant tables', async () => {
    expect(await withOwnerClient(appRoleProblems)).toEqual([]);
  });

  it('is not a member of the role that owns the tenant tables', async () => {
    const { rows } = await withOwnerClient((client) =>
      client.query<{ owner: string; member: boolean }>(
        `select pg_get_userbyid(relowner) as owner, pg_has_role($1, relowner, 'MEMBER') as member
           from pg_class where oid = 'public.tenants'::regclass`,
        [APP_ROLE],
      ),
    );
    expect(rows[0]!.owner).not.toBe(APP_ROLE);
    expect(rows[0]!.member).toBe(false);
  });

  it('reports ownership, a reachable table without tenant_id and a SECURITY DEFINER function (negative control)', async () => {
    const table = scratchName();
    const problems = await inRolledBackTransaction(async (client) => {
      await client.query(`create table public.${table}_owned (id int)`);
      await client.query(`alter table public.${table}_owned owner to ${APP_ROLE}`);
      await client.query(`create table public.${table}_global (id int)`);
      await client.query(`grant select on public.${table}_global to ${APP_ROLE}`);
      // Marked as reference data but writable, or referring to another table: still reported.
      await client.query(`create table public.${table}_writable (id int)`);
      await client.query(`comment on table public.${table}_writable is 'Shared reference data: test'`);
      await client.query(`grant select, insert on public.${table}_writable to ${APP_ROLE}`);
      await client.query(`create table public.${table}_keyed (id bigint references public.tenants (id))`);
      await client.query(`comment on table public.${table}_keyed is 'Shared reference data: test'`);
      await client.query(`grant select on public.${table}_keyed to ${APP_ROLE}`);
      // Marked, read-only, referring to nothing: allowed, like plan_limits.
      await client.query(`create table public.${table}_reference (id int)`);
      await client.query(`comment on table public.${table}_reference is 'Shared reference data: test'`);
      await client.query(`grant select on public.${table}_reference to ${APP_ROLE}`);
      await client.query(`create table public.${table}_sink (id int, note text, code text check (code in ('a')))`);
      await client.query(`grant insert on public.${table}_sink to ${APP_ROLE}`);
      await client.query(`create table public.${table}_readable_sink (id int)`);
      await client.query(`grant insert, select (id) on public.${table}_readable_sink to ${APP_ROLE}`);
      await client.query(`create function app.${table}_definer() returns int language sql security definer as 'select 1'`);
      await client.query(`grant execute on function app.${table}_definer() to ${APP_ROLE}`);
      return appRoleProblems(client);
    });
    expect(problems).toEqual(
      expect.arrayContaining([
        `${APP_ROLE} owns table ${table}_owned`,
        `${APP_ROLE} can access ${table}_global (relkind r), which is not a tenant table`,
        `${APP_ROLE} can access ${table}_writable (relkind r), which is not a tenant table`,
        `${APP_ROLE} can access ${table}_keyed (relkind r), which is not a tenant table`,
        `${APP_ROLE} may call SECURITY DEFINER function app.${table}_definer()`,
        `${APP_ROLE} can access ${table}_readable_sink (relkind r), which is not a tenant table`,
        `${APP_ROLE} may insert free text into ${table}_sink.note (text), which is not a tenant table: constrain it with a CHECK or make it a tenant table`,
      ]),
    );
    expect(problems.filter((problem) => problem.includes(`${table}_reference`))).toEqual([]);
    // An insert-only sink of ids and constrained text is allowed (refused_context_switches is one).
    expect(problems.filter((p) => p.includes(`${table}_sink`) && !p.includes('.note'))).toEqual([]);
  });
});

describe(`role ${OPERATOR_ROLE} (pg_catalog)`, () => {
  it('is a member of no role, may create nothing, holds exactly the app role’s rights plus its binding', async () => {
    expect(await withOwnerClient(operatorRoleProblems)).toEqual([]);
  });

  it('reports a membership, a CREATE privilege and rights that differ from the app role’s (negative control)', async () => {
    const table = scratchName();
    const problems = await inRolledBackTransaction(async (client) => {
      await client.query(`grant ${APP_ROLE} to ${OPERATOR_ROLE}`);
      await client.query(`grant create on schema app to ${OPERATOR_ROLE}`);
      await client.query(`create table public.${table} (tenant_id bigint)`);
      await client.query(`grant select on public.${table} to ${APP_ROLE}`);
      await client.query(`grant delete on public.messages to ${OPERATOR_ROLE}`);
      await client.query(`grant insert on app.operator_sessions to ${APP_ROLE}`);
      return operatorRoleProblems(client);
    });
    expect(problems).toEqual(
      expect.arrayContaining([
        `${OPERATOR_ROLE} is a member of ${APP_ROLE}, so SET ROLE could leave its confinement`,
        `${OPERATOR_ROLE} may create objects in schema app`,
        `${OPERATOR_ROLE} lacks ${table}: SELECT, which the app role holds: grant it to both`,
        `${OPERATOR_ROLE} holds messages: DELETE beyond the app role's rights`,
        `${APP_ROLE} holds app.operator_sessions: INSERT; only the owner writes operator bindings`,
        `${APP_ROLE} may write app.operator_sessions; only the owner may`,
      ]),
    );
  });
});

describe(`role ${APP_ROLE} (connected as it)`, () => {
  let tenant: TestTenant;
  let owner: string;
  beforeAll(async () => {
    tenant = await createTestTenant();
    owner = (await withOwnerClient((client) => client.query<{ owner: string }>("select pg_get_userbyid(relowner) as owner from pg_class where oid = 'public.tenants'::regclass"))).rows[0]!.owner;
  });

  it('connects as a role that is neither superuser nor BYPASSRLS', async () => {
    const { rows } = await withAppClient((client) =>
      client.query<{ current_user: string; rolsuper: boolean; rolbypassrls: boolean }>(
        'select current_user, rolsuper, rolbypassrls from pg_roles where rolname = current_user',
      ),
    );
    expect(rows).toEqual([{ current_user: APP_ROLE, rolsuper: false, rolbypassrls: false }]);
  });

  // Each attempt runs inside the tenant's own context, so what refuses it is a privilege, not a missing tenant.
  it.each([
    ['TRUNCATE messages', () => 'truncate messages', /^permission denied for table messages$/],
    ['DISABLE ROW LEVEL SECURITY', () => 'alter table conversations disable row level security', /^must be owner of table conversations$/],
    ['NO FORCE ROW LEVEL SECURITY', () => 'alter table users no force row level security', /^must be owner of table users$/],
    ['DROP POLICY', () => 'drop policy tenant_isolation on messages', /^must be owner of (table|relation) messages$/],
    ['CREATE POLICY', () => 'create policy wide on messages using (true)', /^must be owner of (table|relation) messages$/],
    ['UPDATE users', () => "update users set display_name = 'changed'", /^permission denied for table users$/],
    ['DELETE FROM messages', () => 'delete from messages', /^permission denied for table messages$/],
    ['UPDATE conversations.tenant_id', () => 'update conversations set tenant_id = tenant_id + 1', /^permission denied for table conversations$/],
    ['INSERT INTO tenants', () => "insert into tenants (id, name) values (1, 'x')", /^permission denied for table tenants$/],
    ['SET ROLE to the owner', () => `set role ${owner}`, /^permission denied to set role/],
    ['SET SESSION AUTHORIZATION to the owner', () => `set session authorization ${owner}`, /^permission denied to set session authorization/],
    ['ALTER ROLE … BYPASSRLS', () => `alter role ${APP_ROLE} bypassrls`, /permission denied|must be superuser/],
    ['CREATE TABLE in public', () => 'create table public.app_made (tenant_id bigint)', /^permission denied for schema public$/],
    [
      'replace app.current_tenant_id()',
      () => "create or replace function app.current_tenant_id() returns bigint language sql stable as 'select 1::bigint'",
      /^(permission denied for schema app|must be owner of function current_tenant_id)$/,
    ],
  ])('cannot %s', async (_name, statement, message) => {
    const before = await snapshotTenants([tenant.id]);
    const error = await withAppClient(async (client) => {
      await client.query('begin');
      try {
        await client.query("select set_config('app.current_tenant', $1, true)", [tenant.id]);
        await client.query(statement());
        return null;
      } catch (caught) {
        return caught as pg.DatabaseError;
      } finally {
        await client.query('rollback');
      }
    });
    expect(error?.message).toMatch(message);
    expect(error?.code).toBe('42501');
    expect(await snapshotTenants([tenant.id])).toEqual(before);
  });

  it('cannot read past the policies with row_security = off', async () => {
    const error = await withAppClient(async (client) => {
      await client.query('set row_security = off');
      return client.query('select * from conversations').then(() => null, (caught: pg.DatabaseError) => caught);
    });
    expect(error?.code).toBe('42501');
    expect(error?.message).toBe('query would be affected by row-level security policy for table "conversations"');
  });
});
