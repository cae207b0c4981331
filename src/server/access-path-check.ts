import { CompiledQuery, DeleteQueryNode, InsertQueryNode, UpdateQueryNode, type Kysely, type RootOperationNode } from 'kysely';
import { DatabaseRefusal } from '../db/database-refusal.js';
import { standInSample, type AccessPath } from '../modules/access-path.js';
import type { TenantTransaction } from '../tenancy/tenant-transaction.js';

/**
 * Plans every access path of the registered modules (src/modules/index.ts ACCESS_PATHS) as the app role, with
 * plain EXPLAIN: PostgreSQL checks the role's privileges and every name while planning, and runs nothing. So a
 * module whose migration forgot a GRANT, or whose query names a column that does not exist, stops start-up
 * naming the path, the table and the fix — instead of every request of that kind failing later (with a missing
 * grant, as a 42501 that looks like an RLS refusal). Returns the problems as sentences (empty when all plan).
 *
 * A stand-in tenant is set for planning only: the standard policy's tenant predicate is an InitPlan, evaluated only
 * on execution, but the Citus form (`tenant_id = app.current_tenant_id()`, migrations/0017) calls the STABLE
 * function directly, and the planner evaluates it for its selectivity estimate. SECURITY: nothing runs (EXPLAIN
 * without ANALYZE, in a read-only transaction that is rolled back), so the stand-in reads and writes no row.
 */
export async function findAccessPathProblems(db: Kysely<any>, paths: readonly AccessPath[]): Promise<string[]> {
  const sample = standInSample();
  // Compiling needs a query builder, not a transaction: the statements are only planned, never executed through it.
  const compiler = db as unknown as TenantTransaction;
  return db.connection().execute(async (connection) => {
    const problems: string[] = [];
    await connection.executeQuery(CompiledQuery.raw('begin read only'));
    try {
      await connection.executeQuery(CompiledQuery.raw("set local app.current_tenant = '1'"));
      for (const path of paths) {
        const statement = path.query(compiler, sample).compile();
        await connection.executeQuery(CompiledQuery.raw('savepoint access_path'));
        try {
          await connection.executeQuery(CompiledQuery.raw(`explain ${statement.sql}`, [...statement.parameters]));
          await connection.executeQuery(CompiledQuery.raw('release savepoint access_path'));
        } catch (error) {
          await connection.executeQuery(CompiledQuery.raw('rollback to savepoint access_path'));
          problems.push(describe(path, statement, error));
        }
      }
    } finally {
      await connection.executeQuery(CompiledQuery.raw('rollback'));
    }
    return problems;
  });
}

export class AccessPathRefusal extends DatabaseRefusal {
  constructor(problems: string[]) {
    super("Refusing to start: statements of the API's modules cannot run as the app role.", problems);
  }
}

/** Throws {@link AccessPathRefusal} listing every path that does not plan. */
export async function assertAccessPathsPlan(db: Kysely<any>, paths: readonly AccessPath[]): Promise<void> {
  const problems = await findAccessPathProblems(db, paths);
  if (problems.length) throw new AccessPathRefusal(problems);
}

function describe(path: AccessPath, statement: CompiledQuery, error: unknown): string {
  const { code, message } = error as { code?: string; message?: string };
  const denied = code === '42501' ? /permission denied for (?:table|relation|view|sequence) (\S+)/.exec(message ?? '') : null;
  if (denied) {
    const table = denied[1]!;
    const privilege = writeOf(statement.query, table) ?? rawWriteOf(statement.sql, table) ?? 'SELECT';
    return (
      `Access path ${path.name}: the app role may not ${privilege} ${table} ("${message}"). ` +
      `Fix: add \`GRANT ${privilege} ON ${table} TO tenantgraph_app, tenantgraph_operator;\` to a migration ` +
      '(grant exactly the DML the module issues; the operator role holds the same rights).'
    );
  }
  return `Access path ${path.name} does not plan as the app role: ${message ?? String(error)} (SQLSTATE ${code ?? 'unknown'}). Fix the query in its module or the migration.`;
}

/** The same for a statement written as raw SQL (a `sql` template): read from its first words. */
function rawWriteOf(text: string, table: string): string | undefined {
  const target = /^\s*(?:with\b[\s\S]*?\)\s*)?(insert\s+into|update|delete\s+from)\s+"?(\w+)"?/i.exec(text);
  return target && target[2] === table ? target[1]!.split(/\s+/)[0]!.toUpperCase() : undefined;
}

/** INSERT / UPDATE / DELETE when `table` is the statement's target, else undefined (it only reads the table). */
function writeOf(query: RootOperationNode, table: string): string | undefined {
  const named = (node: { table: { identifier: { name: string } } } | undefined) => node?.table.identifier.name === table;
  if (InsertQueryNode.is(query) && named(query.into)) return 'INSERT';
  if (UpdateQueryNode.is(query) && query.table && 'table' in query.table && named(query.table as never)) return 'UPDATE';
  if (DeleteQueryNode.is(query) && query.from.froms.some((from) => 'table' in from && named(from as never))) return 'DELETE';
  return undefined;
}
