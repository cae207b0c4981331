import type pg from 'pg';
import { listTenantTableLayouts } from '../../src/db/tenant-table-layout.js';
import { enterTenant } from '../../src/tenancy/enter-tenant.js';

/**
 * Gives every tenant table (the catalog's list) that holds no row of `tenantId` one synthetic row, as the owner in
 * the tenant's context, parents first: a value of its type for each required column, and for a foreign key the key
 * of a row of the same tenant in the referenced table (which the parents-first order has filled). Tests that need
 * "a row in every table" (export, import, deletion) use it after their own seeding, so a table a module adds is
 * covered with nothing to write; a table whose constraints a synthetic row cannot satisfy fails here, naming it.
 * Returns the tables it filled.
 */
export async function fillEmptyTenantTables(client: pg.Client, tenantId: string): Promise<string[]> {
  const filled: string[] = [];
  await client.query('begin');
  try {
    await enterTenant(client, tenantId);
    for (const table of await listTenantTableLayouts(client)) {
      if (table.tenantColumn !== 'tenant_id') continue; // tenants itself: the tenant's row exists
      const { rows: existing } = await client.query(`select from ${table.qualifiedName} where tenant_id = $1 limit 1`, [tenantId]);
      if (existing.length) continue;
      const { rows: columns } = await client.query<{ name: string; type: string; enum_type: string | null; reference: string | null }>(
        `select a.attname as name, format_type(a.atttypid, a.atttypmod) as type,
                case when t.typtype = 'e' then a.atttypid::regtype::text end as enum_type,
                (select format('(select %I from %s where tenant_id = %L limit 1)', fa.attname, con.confrelid::regclass, $2::text)
                   from pg_constraint con
                   cross join lateral unnest(con.conkey, con.confkey) as k(attnum, fattnum)
                   join pg_attribute fa on fa.attrelid = con.confrelid and fa.attnum = k.fattnum
                  where con.conrelid = a.attrelid and con.contype = 'f' and k.attnum = a.attnum and fa.attname <> 'tenant_id'
                  limit 1) as reference
           from pg_attribute a join pg_type t on t.oid = a.atttypid
          where a.attrelid = $1::regclass and a.attnum > 0 and not a.attisdropped and a.attgenerated = ''
            and a.attname <> 'tenant_id' and a.attnotnull and not a.atthasdef
          order by a.attnum`,
        [table.qualifiedName, tenantId],
      );
      const values = columns.map((column) => column.reference ?? syntheticValue(column.type, column.enum_type, table.qualifiedName, column.name));
      const names = columns.map((column) => client.escapeIdentifier(column.name));
      await client.query(
        names.length
          ? `insert into ${table.qualifiedName} (${names.join(', ')}) values (${values.join(', ')})`
          : `insert into ${table.qualifiedName} default values`,
      );
      filled.push(table.qualifiedName);
    }
    await client.query('commit');
  } catch (error) {
    await client.query('rollback');
    throw error;
  }
  return filled;
}

function syntheticValue(type: string, enumType: string | null, table: string, column: string): string {
  if (enumType) return `(enum_range(null::${enumType}))[1]`;
  if (/^(text|character varying|citext)/.test(type)) return `'synthetic ${column}'`;
  if (/^(integer|bigint|smallint|numeric|real|double precision)/.test(type)) return '1';
  if (type === 'boolean') return 'false';
  if (type === 'uuid') return 'gen_random_uuid()';
  if (/^timestamp|^date/.test(type)) return 'now()';
  if (/^jsonb?$/.test(type)) return `'{}'`;
  throw new Error(`fillEmptyTenantTables: no synthetic value for ${table}.${column} (${type}); seed this table in the test`);
}
