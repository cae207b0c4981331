import { catalogReader, type CatalogSource } from './catalog-reader.js';
import { listTenantTables, type TenantTable } from './tenant-catalog.js';

/** One column of a tenant table, in the table's column order. */
export interface TableColumn {
  name: string;
  /** A generated column (`GENERATED ALWAYS AS … STORED`): exported, never inserted. */
  generated: boolean;
  /** Its type has a collation (text and the like): ordered with `COLLATE "C"`, the same in every cluster. */
  collatable: boolean;
}

/** A tenant table as moving a tenant needs it: columns, primary key and the tenant tables it refers to. */
export interface TenantTableLayout extends TenantTable {
  columns: TableColumn[];
  /** Primary key columns in key order; empty when the table has none (rows are then ordered by their JSON). */
  primaryKey: string[];
  /** `qualifiedName`s of the other tenant tables its foreign keys refer to. */
  parents: string[];
  /** Whether a user trigger (not a foreign-key one) fires on it: an import then re-applies the exported values. */
  hasUserTriggers: boolean;
}

/** A table that is no tenant table but refers to `tenants` by a one-column foreign key (e.g. app.operator_sessions). */
export interface TenantReference {
  qualifiedName: string;
  column: string;
}

/**
 * Every tenant table (listTenantTables) with its columns, key and foreign keys, ordered parents first: `tenants`,
 * then each table after every table it refers to (ties by name, so the order is the same in every database of the
 * same schema). Export writes and import inserts in this order; deletion walks it backwards, children first.
 *
 * Throws when the foreign keys between tenant tables form a cycle: no insert order would satisfy them.
 */
export async function listTenantTableLayouts(source: CatalogSource): Promise<TenantTableLayout[]> {
  const reader = catalogReader(source);
  const tables = await listTenantTables(source);
  const names = new Set(tables.map((t) => t.qualifiedName));
  const layouts: TenantTableLayout[] = [];
  for (const table of tables) {
    const { rows: columns } = await reader.query<TableColumn>(
      `select a.attname as name, a.attgenerated <> '' as generated, a.attcollation <> 0 as collatable
         from pg_attribute a where a.attrelid = $1::regclass and a.attnum > 0 and not a.attisdropped order by a.attnum`,
      [table.qualifiedName],
    );
    const { rows: key } = await reader.query<{ name: string }>(
      `select a.attname as name
         from pg_index i cross join lateral unnest(i.indkey) with ordinality k(attnum, position)
         join pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.attnum
        where i.indrelid = $1::regclass and i.indisprimary order by k.position`,
      [table.qualifiedName],
    );
    const { rows: parents } = await reader.query<{ name: string }>(
      `select distinct format('%I.%I', n.nspname, c.relname) as name
         from pg_constraint con join pg_class c on c.oid = con.confrelid join pg_namespace n on n.oid = c.relnamespace
        where con.contype = 'f' and con.conrelid = $1::regclass and con.confrelid <> con.conrelid order by 1`,
      [table.qualifiedName],
    );
    const { rows: triggers } = await reader.query<{ count: number }>(
      'select count(*)::int as count from pg_trigger where tgrelid = $1::regclass and not tgisinternal',
      [table.qualifiedName],
    );
    layouts.push({
      ...table,
      columns,
      primaryKey: key.map((k) => k.name),
      parents: parents.map((p) => p.name).filter((name) => names.has(name)),
      hasUserTriggers: (triggers[0]?.count ?? 0) > 0,
    });
  }
  return parentsFirst(layouts);
}

/**
 * Tables outside the tenant tables whose foreign key refers to `tenants (id)`: owner bookkeeping such as
 * app.operator_sessions. Their rows of a tenant go when the tenant goes, and deletion verifies that they did.
 */
export async function listTenantReferences(source: CatalogSource): Promise<TenantReference[]> {
  const tenantTables = new Set((await listTenantTables(source)).map((t) => t.qualifiedName));
  const { rows } = await catalogReader(source).query<{ name: string; column: string }>(
    `select format('%I.%I', n.nspname, c.relname) as name, a.attname as column
       from pg_constraint con
       join pg_class c on c.oid = con.conrelid join pg_namespace n on n.oid = c.relnamespace
       join pg_attribute a on a.attrelid = con.conrelid and a.attnum = con.conkey[1]
      where con.contype = 'f' and con.confrelid = 'public.tenants'::regclass and cardinality(con.conkey) = 1
      order by 1, 2`,
  );
  return rows.filter((r) => !tenantTables.has(r.name)).map((r) => ({ qualifiedName: r.name, column: r.column }));
}

/** Kahn's topological sort, smallest name first among the tables that are ready. */
function parentsFirst(layouts: TenantTableLayout[]): TenantTableLayout[] {
  const ordered: TenantTableLayout[] = [];
  const placed = new Set<string>();
  const waiting = [...layouts].sort((a, b) => (a.qualifiedName < b.qualifiedName ? -1 : 1));
  while (waiting.length) {
    const index = waiting.findIndex((t) => t.parents.every((p) => placed.has(p)));
    if (index < 0) {
      throw new Error(
        `The foreign keys between tenant tables form a cycle (${waiting.map((t) => t.qualifiedName).join(', ')}), so no order inserts parents before children. Make one of them DEFERRABLE and drop it from the cycle, or break the cycle.`,
      );
    }
    const [next] = waiting.splice(index, 1);
    ordered.push(next!);
    placed.add(next!.qualifiedName);
  }
  return ordered;
}

/**
 * The statement that reads a tenant's rows of `table` as export lines: one `row_to_json` text per row, in
 * primary key order (text keys with `COLLATE "C"`), or by the line itself when there is no key. `tenantId` is
 * inlined (validated by the caller: digits only), because a cursor is declared with it. `asTenantId`, when
 * given, is written in place of the tenant column: an import under a new id compares its rows with the file.
 */
export function exportLinesQuery(table: TenantTableLayout, tenantId: string, asTenantId?: string): string {
  if (!/^[1-9][0-9]{0,18}$/.test(tenantId) || (asTenantId !== undefined && !/^[1-9][0-9]{0,18}$/.test(asTenantId))) {
    throw new TypeError(`exportLinesQuery expected decimal tenant ids, received ${JSON.stringify([tenantId, asTenantId])}`);
  }
  const select = table.columns
    .map((c) => (asTenantId !== undefined && c.name === table.tenantColumn ? `${asTenantId}::bigint as ${ident(c.name)}` : `t.${ident(c.name)}`))
    .join(', ');
  const collatable = new Set(table.columns.filter((c) => c.collatable).map((c) => c.name));
  const order = table.primaryKey.length
    ? table.primaryKey.map((k) => `r.${ident(k)}${collatable.has(k) ? ' collate "C"' : ''}`).join(', ')
    : 'row_to_json(r)::text collate "C"';
  return `select row_to_json(r)::text as line from (select ${select} from ${table.qualifiedName} t where t.${ident(table.tenantColumn)} = ${tenantId}) r order by ${order}`;
}

/** A quoted SQL identifier. */
export function ident(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
