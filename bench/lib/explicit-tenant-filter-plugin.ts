import pg from 'pg';
import { listTenantTables } from '../../src/db/tenant-catalog.js';
import {
  AliasNode,
  BinaryOperationNode,
  ColumnNode,
  DeleteQueryNode,
  IdentifierNode,
  JoinNode,
  OperationNodeTransformer,
  OperatorNode,
  QueryNode,
  ReferenceNode,
  SelectQueryNode,
  TableNode,
  UpdateQueryNode,
  ValueNode,
  sql,
  type Kysely,
  type KyselyPlugin,
  type OperationNode,
  type PluginTransformQueryArgs,
  type PluginTransformResultArgs,
  type QueryResult,
  type RootOperationNode,
  type UnknownRow,
} from 'kysely';

/**
 * BENCHMARK ONLY (the "API without RLS" of issue 4, composed in no-rls-server.ts; it lives in bench/ so the
 * product contains no code that stands in for RLS). That server connects as a role that bypasses Row Level
 * Security, and this plugin adds the tenant
 * predicate that a hand-written multi-tenant server would write, `<table>.tenant_id = <tenant>`, to every
 * tenant table in FROM, JOIN, UPDATE and DELETE, subqueries included. The gap between the API as shipped and
 * the API in this mode is what isolation by RLS costs.
 *
 * SECURITY: never a production mode. It is fail-closed where it can be: a table it does not know and a raw
 * SQL statement (whose tables it cannot see) are refused instead of running unfiltered. Inserts need nothing:
 * `tenant_id` defaults to app.current_tenant_id(), which the transaction prologue still sets.
 */
export class ExplicitTenantFilterPlugin implements KyselyPlugin {
  readonly #transformer: TenantPredicateTransformer;

  /** `tenantColumns`: each tenant table's tenant column, from the catalog ({@link readTenantColumns}). */
  constructor(tenantId: string, tenantColumns: TenantColumns) {
    this.#transformer = new TenantPredicateTransformer(tenantId, tenantColumns);
  }

  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    if (args.node.kind === 'RawNode') {
      throw new Error('the explicit tenant filter (bench) cannot add a tenant predicate to raw SQL; write the statement with the query builder');
    }
    return this.#transformer.transformNode(args.node, args.queryId);
  }

  transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    return Promise.resolve(args.result);
  }
}

/** Tenant table name -> the column that holds its tenant (`tenants` is keyed by its own id). */
export type TenantColumns = ReadonlyMap<string, string>;

/**
 * The tenant tables of the database at `url` and their tenant columns, from the catalog (listTenantTables), so a
 * table a module adds is filtered too, with nothing to list here.
 */
export async function readTenantColumns(url: string): Promise<TenantColumns> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return new Map((await listTenantTables(client)).filter((t) => t.schema === 'public').map((t) => [t.table, t.tenantColumn]));
  } finally {
    await client.end();
  }
}

class TenantPredicateTransformer extends OperationNodeTransformer {
  constructor(
    private readonly tenantId: string,
    private readonly tenantColumns: TenantColumns,
  ) {
    super();
  }

  /** The names of the common table expressions in scope: `from "inserted"` reads a CTE (filtered on its own), not a table. */
  readonly #cteNames = new Set<string>();

  // super.transform* first: it recurses into subqueries (lateral joins, INSERT ... SELECT, CTEs).
  protected override transformSelectQuery(node: SelectQueryNode, queryId?: PluginTransformQueryArgs['queryId']): SelectQueryNode {
    const added = (node.with?.expressions ?? []).map((cte) => cte.name.table.table.identifier.name).filter((name) => !this.#cteNames.has(name));
    for (const name of added) this.#cteNames.add(name);
    try {
      return this.#filterJoins(this.#filterFroms(super.transformSelectQuery(node, queryId)));
    } finally {
      for (const name of added) this.#cteNames.delete(name);
    }
  }

  protected override transformUpdateQuery(node: UpdateQueryNode, queryId?: PluginTransformQueryArgs['queryId']): UpdateQueryNode {
    let filtered = this.#filterFroms(super.transformUpdateQuery(node, queryId));
    if (filtered.table) filtered = this.#where(filtered, filtered.table);
    return this.#filterJoins(filtered);
  }

  protected override transformDeleteQuery(node: DeleteQueryNode, queryId?: PluginTransformQueryArgs['queryId']): DeleteQueryNode {
    return this.#filterJoins(this.#filterFroms(super.transformDeleteQuery(node, queryId)));
  }

  #filterFroms<T extends SelectQueryNode | UpdateQueryNode | DeleteQueryNode>(node: T): T {
    let filtered = node;
    for (const from of node.from?.froms ?? []) filtered = this.#where(filtered, from);
    return filtered;
  }

  /** A joined table gets the predicate in its ON (an outer join must keep its unmatched rows), a cross join in WHERE. */
  #filterJoins<T extends SelectQueryNode | UpdateQueryNode | DeleteQueryNode>(node: T): T {
    if (!node.joins?.length) return node;
    let filtered = node;
    const joins = node.joins.map((join) => {
      const predicate = this.#predicateFor(join.table);
      if (!predicate) return join;
      if (join.joinType === 'InnerJoin' || join.joinType === 'LeftJoin') return JoinNode.cloneWithOn(join, predicate);
      if (join.joinType === 'CrossJoin') {
        filtered = QueryNode.cloneWithWhere(filtered, predicate);
        return join;
      }
      throw new Error(`the explicit tenant filter (bench) does not support ${join.joinType} of a tenant table`);
    });
    return { ...filtered, joins };
  }

  #where<T extends SelectQueryNode | UpdateQueryNode | DeleteQueryNode>(node: T, table: OperationNode): T {
    const predicate = this.#predicateFor(table);
    return predicate ? QueryNode.cloneWithWhere(node, predicate) : node;
  }

  /** `<name or alias>.<tenant column> = $n` for a tenant table; undefined for anything that is not a table. */
  #predicateFor(item: OperationNode): OperationNode | undefined {
    const aliased = AliasNode.is(item) ? item : undefined;
    const table = aliased ? aliased.node : item;
    if (!TableNode.is(table)) return undefined; // a subquery (filtered on its own) or a function such as unnest()
    const name = table.table.identifier.name;
    if (!table.table.schema && this.#cteNames.has(name)) return undefined;
    const column = this.tenantColumns.get(name);
    if (!column || table.table.schema) {
      throw new Error(
        `the explicit tenant filter (bench) does not know table ${JSON.stringify(name)}: the catalog lists no tenant table of that name`,
      );
    }
    const qualifier = aliased && IdentifierNode.is(aliased.alias) ? TableNode.create(aliased.alias.name) : TableNode.create(name);
    return BinaryOperationNode.create(
      ReferenceNode.create(ColumnNode.create(column), qualifier),
      OperatorNode.create('='),
      ValueNode.create(this.tenantId),
    );
  }
}

/**
 * The counterpart of assertIsolationIsEnforced for the benchmark mode: the connection must bypass RLS (or the
 * benchmark would measure RLS plus the explicit filter) without being a superuser.
 */
export async function assertBypassesRowLevelSecurity(db: Kysely<any>): Promise<void> {
  const { rows } = await sql<{ rolname: string; rolsuper: boolean; rolbypassrls: boolean }>`
    select rolname, rolsuper, rolbypassrls from pg_roles where rolname = current_user`.execute(db);
  const role = rows[0];
  if (!role?.rolbypassrls || role.rolsuper) {
    throw new Error(`the API without RLS (bench) needs a NOSUPERUSER BYPASSRLS role, received ${JSON.stringify(role ?? null)}`);
  }
}
