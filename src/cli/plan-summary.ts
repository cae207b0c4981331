/**
 * Reads one `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON)` result: which scans the plan made and whether each scan
 * of a tenant table went through an index led by the tenant key with the tenant predicate as an index
 * condition — what keeps a tenant's statement proportional to that tenant's rows rather than everyone's.
 */

/** The part of a PostgreSQL JSON plan node this module reads. */
export interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  'Index Cond'?: string;
  'Shared Hit Blocks'?: number;
  'Shared Read Blocks'?: number;
  'Actual Rows'?: number;
  Plans?: PlanNode[];
}

/** The top level of `EXPLAIN (ANALYZE, FORMAT JSON)` (one element of its array). */
export interface ExplainResult {
  Plan: PlanNode;
  'Planning Time'?: number;
  'Execution Time'?: number;
}

export interface ScanSummary {
  nodeType: string;
  /** The table scanned; absent for scans of no table (unnest(), VALUES). */
  relation: string | null;
  /** The index used (a bitmap heap scan's come from its Bitmap Index Scan children). */
  indexes: string[];
  /** For a tenant table: every index used leads with the tenant key. Null for a scan of no table. */
  tenantIndex: boolean | null;
  /** For a tenant table: the tenant predicate is part of every index condition. Null for a scan of no table. */
  tenantIndexCond: boolean | null;
}

export interface PlanSummary {
  scans: ScanSummary[];
  /** Every tenant-table scan used a tenant-led index; null when the plan scans no table. */
  tenantIndexUsed: boolean | null;
  /** Every tenant-table scan had the tenant predicate in its Index Cond; null when the plan scans no table. */
  tenantPredicateInIndexCond: boolean | null;
  executionMs: number | null;
  planningMs: number | null;
  /** Shared buffers of the whole execution (the top node's counts include its children). */
  buffers: { hit: number; read: number };
  rows: number | null;
}

/**
 * The key that scopes a table to a tenant: `tenants` is keyed by its own id, every tenant-owned table carries
 * `tenant_id` (migrations/0002's checklist). Scans of other relations are reported without a verdict.
 */
function tenantKeyOf(table: string): string {
  return table === 'tenants' ? 'id' : 'tenant_id';
}

/** Every node of the tree, depth first (InitPlans and SubPlans are children too). */
export function planNodes(node: PlanNode): PlanNode[] {
  return [node, ...(node.Plans ?? []).flatMap(planNodes)];
}

/**
 * @param leadingColumns index name -> first column of that index (from pg_index), so "tenant-led" is read
 *   from the catalog rather than guessed from index names.
 */
export function summarizePlan(result: ExplainResult, leadingColumns: ReadonlyMap<string, string>): PlanSummary {
  const scans: ScanSummary[] = [];
  for (const node of planNodes(result.Plan)) {
    const type = node['Node Type'];
    // A Bitmap Index Scan is reported as part of the Bitmap Heap Scan above it.
    if (!type.endsWith('Scan') || type === 'Bitmap Index Scan') continue;
    const relation = node['Relation Name'] ?? null;
    const indexNodes =
      type === 'Bitmap Heap Scan' ? planNodes(node).filter((n) => n['Node Type'] === 'Bitmap Index Scan') : node['Index Name'] ? [node] : [];
    const indexes = indexNodes.map((n) => n['Index Name']!).filter(Boolean);
    if (relation === null) {
      scans.push({ nodeType: type, relation, indexes, tenantIndex: null, tenantIndexCond: null });
      continue;
    }
    const key = tenantKeyOf(relation);
    // `tenant_id = (InitPlan 1).col1` on PostgreSQL 17+, `tenant_id = $0` before: the RLS policy's predicate.
    const predicate = new RegExp(`\\b${key} = `);
    scans.push({
      nodeType: type,
      relation,
      indexes,
      tenantIndex: indexNodes.length > 0 && indexNodes.every((n) => leadingColumns.get(n['Index Name'] ?? '') === key),
      tenantIndexCond: indexNodes.length > 0 && indexNodes.every((n) => predicate.test(n['Index Cond'] ?? '')),
    });
  }
  const tableScans = scans.filter((scan) => scan.relation !== null);
  const all = (pick: (scan: ScanSummary) => boolean | null) => (tableScans.length ? tableScans.every((scan) => pick(scan) === true) : null);
  return {
    scans,
    tenantIndexUsed: all((scan) => scan.tenantIndex),
    tenantPredicateInIndexCond: all((scan) => scan.tenantIndexCond),
    executionMs: result['Execution Time'] ?? null,
    planningMs: result['Planning Time'] ?? null,
    buffers: { hit: result.Plan['Shared Hit Blocks'] ?? 0, read: result.Plan['Shared Read Blocks'] ?? 0 },
    rows: result.Plan['Actual Rows'] ?? null,
  };
}
