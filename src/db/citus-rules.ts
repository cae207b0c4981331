import { catalogReader, type CatalogReader, type CatalogSource } from './catalog-reader.js';
import { TENANT_TABLES } from './tenant-catalog.js';

/**
 * What Citus would reject, or could not distribute, checked by rule on plain PostgreSQL (Citus is not installable
 * everywhere we test; issue 13 §5). Like tenant-catalog.ts, each rule reads only pg_catalog and returns its problems
 * as sentences with the fix; an empty list means the schema passes the rule. test/rls/citus-rules.test.ts asserts on
 * these functions, each with a negative control; docs/citus.md explains the layout they assume.
 *
 * The layout (see {@link citusLayout}): every tenant table but `tenants` is distributed by `tenant_id`, all in one
 * colocation group; `tenants` is a reference table (a copy on every node), and so is every table that a distributed
 * or reference table refers to by a foreign key (plan_limits); everything else stays a local table on the
 * coordinator. `tenants` is not distributed by `id` because its external id (migrations/0012) must be unique across
 * tenants, and Citus enforces a unique index on a distributed table only when it contains the distribution column.
 */

/** The tenant tables that become reference tables rather than distributed ones (the reason is above). */
export const CITUS_REFERENCE_TENANT_TABLES: readonly string[] = ['public.tenants'];

/** Where each table goes when the schema is distributed with Citus. */
export interface CitusLayout {
  /** `create_distributed_table(t, 'tenant_id', colocate_with => …)`: every tenant table but `tenants`. */
  distributed: string[];
  /** `create_reference_table(t)`: `tenants` and every table a distributed or reference table refers to. */
  reference: string[];
}

/**
 * The placement CTEs: `distributed` (tenant tables except the reference ones, with their tenant column) and
 * `reference` (the reference tenant tables and, transitively, every table their or a distributed table's foreign
 * keys point at that is not itself distributed).
 */
const PLACEMENT = `
  with recursive ${TENANT_TABLES},
  distributed as (select * from tenant_tables where name <> all ($1::text[])),
  reference(oid) as (
    select oid from tenant_tables where name = any ($1::text[])
    union
    select con.confrelid from pg_constraint con
     where con.contype = 'f' and con.conrelid in (select oid from distributed) and con.confrelid not in (select oid from distributed)
    union
    select con.confrelid from pg_constraint con join reference r on r.oid = con.conrelid
     where con.contype = 'f' and con.confrelid not in (select oid from distributed))`;

const REFERENCE = [...CITUS_REFERENCE_TENANT_TABLES];

/** Which tables are distributed by `tenant_id` and which are reference tables, from the catalog; ordered by name. */
export async function citusLayout(source: CatalogSource): Promise<CitusLayout> {
  const reader = catalogReader(source);
  const distributed = await reader.query<{ name: string }>(`${PLACEMENT} select name from distributed order by 1`, [REFERENCE]);
  const reference = await reader.query<{ name: string }>(
    `${PLACEMENT} select format('%I.%I', n.nspname, c.relname) as name
       from reference r join pg_class c on c.oid = r.oid join pg_namespace n on n.oid = c.relnamespace order by 1`,
    [REFERENCE],
  );
  return { distributed: distributed.rows.map((r) => r.name), reference: reference.rows.map((r) => r.name) };
}

/**
 * No policy of a tenant table contains a subquery: Citus refuses to distribute a table whose policy has one, and
 * today's policy `tenant_id = (SELECT app.current_tenant_id())` (migrations/0009) does. The Citus form
 * `tenant_id = app.current_tenant_id()` (migrations/0017) has none. Read from the policy's parse tree (a SubLink
 * node), not from its text, so no spelling hides one.
 */
export async function citusPolicySubqueryProblems(reader: CatalogReader): Promise<string[]> {
  const { rows } = await reader.query<{ name: string; policy: string; clause: string; expression: string }>(
    `${PLACEMENT}
     select t.name, p.polname as policy, c.clause, c.expression
       from tenant_tables t join pg_policy p on p.polrelid = t.oid
       cross join lateral (values ('USING', p.polqual, pg_get_expr(p.polqual, p.polrelid)),
                                  ('WITH CHECK', p.polwithcheck, pg_get_expr(p.polwithcheck, p.polrelid))) as c(clause, tree, expression)
      where c.tree::text like '%{SUBLINK %'
      order by 1, 2, 3`,
    [REFERENCE],
  );
  return rows.map(
    (r) =>
      `${r.name}: policy ${r.policy} has a subquery in ${r.clause} (${r.expression}), which Citus rejects in the policies of distributed and reference tables. Fix: switch the policies to the Citus form (\`npm run cli -- tenant-policies --form citus\`, then TENANT_CONTEXT_MODE=citus).`,
  );
}

/**
 * Every function a tenant table's policy calls can run on the worker that holds the shard, inside the pushed-down
 * query: STABLE or IMMUTABLE (a VOLATILE one is evaluated per row and Citus will not push it down), not SECURITY
 * DEFINER (it would run as its owner on the worker, outside the rights the coordinator checked), and reading no
 * table (on a worker a table name is not the distributed table but a local one, usually missing). "Reads a table"
 * is decided conservatively: a recorded dependency on a relation (SQL-standard bodies) or, in the source text with
 * string literals and comments removed, a FROM, JOIN, DML or EXECUTE keyword. A false alarm is fixed by rewriting
 * the function; a miss would break every request on Citus.
 */
export async function citusPolicyFunctionProblems(reader: CatalogReader): Promise<string[]> {
  const { rows } = await reader.query<{ fn: string; policy: string; volatile: boolean; definer: boolean; reads: boolean }>(
    `${PLACEMENT}
     select f.oid::regprocedure::text as fn,
            case when count(distinct p.oid) = 1 then format('policy %s', min(format('%s on %s', p.polname, t.name)))
                 else format('%s policies (%s, …)', count(distinct p.oid), min(format('%s on %s', p.polname, t.name))) end as policy,
            f.provolatile = 'v' as volatile, f.prosecdef as definer,
            (exists (select from pg_depend fd where fd.classid = 'pg_proc'::regclass and fd.objid = f.oid and fd.refclassid = 'pg_class'::regclass)
             -- Comments first (a comment may hold an apostrophe), then string literals.
             or regexp_replace(regexp_replace(coalesce(f.prosrc, ''), '--[^\n]*', '', 'g'), '''([^'']|'''')*''', '', 'g')
                ~* '\\m(from|join|insert|update|delete|merge|truncate|copy|execute)\\M') as reads
       from tenant_tables t join pg_policy p on p.polrelid = t.oid
       join pg_depend d on d.classid = 'pg_policy'::regclass and d.objid = p.oid and d.refclassid = 'pg_proc'::regclass
       join pg_proc f on f.oid = d.refobjid
      group by f.oid
      order by 1`,
    [REFERENCE],
  );
  const problems: string[] = [];
  for (const f of rows) {
    if (f.volatile)
      problems.push(`${f.fn}, called by ${f.policy}, is VOLATILE, so Citus cannot push it down to the shards. Fix: ALTER FUNCTION ${f.fn} STABLE.`);
    if (f.definer)
      problems.push(
        `${f.fn}, called by ${f.policy}, is SECURITY DEFINER, so on a worker it would run as its owner, not as the role the coordinator checked. Fix: ALTER FUNCTION ${f.fn} SECURITY INVOKER.`,
      );
    if (f.reads)
      problems.push(
        `${f.fn}, called by ${f.policy}, reads a table, which on a worker is not the coordinator's table: a pushed-down statement that takes that path fails on the worker, or reads the worker's own copy. Fix: read only settings (current_setting) on every path a distributed query can take.`,
      );
  }
  return problems;
}

/**
 * Foreign keys Citus can enforce: between distributed tables only with the distribution column on both sides
 * (`(tenant_id, x) REFERENCES parent (tenant_id, x)`, so both rows are on one shard); from a distributed table to a
 * reference table always; from a reference or local table to a distributed table never.
 */
export async function citusForeignKeyProblems(reader: CatalogReader): Promise<string[]> {
  const { rows } = await reader.query<{ child: string; constraint: string; definition: string; parent: string; kind: string }>(
    `${PLACEMENT}
     select format('%I.%I', cn.nspname, cc.relname) as child, con.conname as constraint, pg_get_constraintdef(con.oid) as definition,
            parent.name as parent, case when child.oid is null then 'not distributed' else 'distributed' end as kind
       from pg_constraint con
       join distributed parent on parent.oid = con.confrelid
       join pg_class cc on cc.oid = con.conrelid join pg_namespace cn on cn.oid = cc.relnamespace
       left join distributed child on child.oid = con.conrelid
      where con.contype = 'f'
        and (child.oid is null
             or not exists (select from unnest(con.conkey, con.confkey) as k(child_column, parent_column)
                             where k.child_column = child.tenant_attnum and k.parent_column = parent.tenant_attnum))
      order by 1, 2`,
    [REFERENCE],
  );
  return rows.map((r) =>
    r.kind === 'distributed'
      ? `${r.child}: foreign key ${r.constraint} (${r.definition}) does not pair tenant_id with ${r.parent}'s tenant_id, so Citus cannot enforce it across shards. Fix: FOREIGN KEY (tenant_id, …) REFERENCES ${r.parent} (tenant_id, …).`
      : `${r.child}: foreign key ${r.constraint} (${r.definition}) points from a table that is not distributed at the distributed table ${r.parent}, which Citus rejects. Fix: give ${r.child} a tenant_id and make it a tenant table (distributed with it), or drop the foreign key.`,
  );
}

/**
 * Every primary key, unique constraint and unique index of a distributed table contains its distribution column
 * (Citus enforces uniqueness only within a shard). Not necessarily first; keyProblems (tenant-catalog.ts) demands
 * first for its own reason.
 */
export async function citusUniqueKeyProblems(reader: CatalogReader): Promise<string[]> {
  const { rows } = await reader.query<{ name: string; index: string; definition: string; tenant_column: string }>(
    `${PLACEMENT}
     select t.name, i.indexrelid::regclass::text as index, pg_get_indexdef(i.indexrelid) as definition, t.tenant_column
       from distributed t join pg_index i on i.indrelid = t.oid
      where i.indisunique and not (t.tenant_attnum = any (i.indkey::int2[]))
      order by 1, 2`,
    [REFERENCE],
  );
  return rows.map(
    (r) =>
      `${r.name}: unique index ${r.index} (${r.definition}) does not contain ${r.tenant_column}, so Citus cannot enforce it on a table distributed by ${r.tenant_column}. Fix: include ${r.tenant_column} in the key.`,
  );
}

/** One rule, named for reports and tests. */
export interface CitusRule {
  name: string;
  run(reader: CatalogReader): Promise<string[]>;
}

/** Every rule, in report order. */
export const CITUS_RULES: readonly CitusRule[] = [
  { name: 'policy subqueries', run: citusPolicySubqueryProblems },
  { name: 'policy functions', run: citusPolicyFunctionProblems },
  { name: 'foreign keys', run: citusForeignKeyProblems },
  { name: 'unique keys', run: citusUniqueKeyProblems },
];

/** Runs every rule of {@link CITUS_RULES}; empty when Citus could distribute the schema as {@link citusLayout} says. */
export async function findCitusProblems(source: CatalogSource): Promise<string[]> {
  const reader = catalogReader(source);
  const problems: string[] = [];
  for (const rule of CITUS_RULES) problems.push(...(await rule.run(reader)));
  return problems;
}
