import type pg from 'pg';
import type { TenantContextMode } from '../db/tenant-catalog.js';
import { isValidTenantId } from '../ids/entity-ids.js';
import { literal, runPerTenantBatch, type TenantStatements } from '../tenancy/per-tenant-batch.js';
import type { AuditEvent } from '../tenancy/audit-sink.js';
import { auditRow } from './audit-row.js';

/** What became of one batch of buffered events. Every event of the batch is in exactly one of the lists. */
export interface BatchResult {
  /** Committed: into `audit_events`, or into `refused_context_switches` when their tenant does not exist. */
  written: AuditEvent[];
  /** Not written because the database was unavailable (connection, timeout, shutdown): write them again later. */
  retry: AuditEvent[];
  /** Transactions (each one round trip) the batch took: 1 unless a failure made it write smaller parts. */
  transactions: number;
  /** Why `retry` is not empty: the error that said the database was unavailable. */
  unavailable?: unknown;
  /** Refused by the database even when written alone (bad data): they can never be written. */
  rejected: { event: AuditEvent; error: unknown }[];
}

/**
 * Writes buffered audit events of many tenants, isolating failures so that one bad event never costs another
 * event its place in the trail (issue 8).
 *
 * The common case is one transaction and one round trip for the whole batch (runPerTenantBatch), and in it one
 * call of app.write_audit_events for all its tenants (batchStatements). An event whose tenant does not exist is no
 * failure: for each tenant it checks, under that tenant's RLS, whether the tenant row is visible and sends the
 * events either to `audit_events` or to `refused_context_switches` (no foreign key there, no tenant data; see
 * migrations/0006). Any other failure of the batch (a value the table
 * refuses, a tenant deleted at that very moment) rolls it back and the batch is written again in smaller parts:
 * one transaction per tenant, then, for a failing tenant, one per event; only the event that fails alone is
 * rejected. A failure that says the database is unavailable stops that and hands the unwritten events back for
 * a retry, so an outage never counts as bad data.
 */
export async function writeAuditBatch(
  pool: pg.Pool,
  events: readonly AuditEvent[],
  tenantContext: TenantContextMode = 'standard',
): Promise<BatchResult> {
  const result: BatchResult = { written: [], retry: [], rejected: [], transactions: 0 };
  const groups: Group[] = [];
  for (const [tenantId, tenantEvents] of groupByTenant(events)) {
    try {
      groups.push({ tenantId, events: tenantEvents, rows: tenantEvents.map(literalRow) });
    } catch (error) {
      // A value that cannot even be inlined (runPerTenantBatch validates the tenant id the same way).
      for (const event of tenantEvents) result.rejected.push({ event, error });
    }
  }
  await writeIsolated(pool, groups, result, tenantContext);
  return result;
}

interface Group {
  tenantId: string;
  events: AuditEvent[];
  /** Each event's values as SQL literals, in the order of COLUMNS. */
  rows: string[][];
}

async function writeIsolated(pool: pg.Pool, groups: Group[], result: BatchResult, tenantContext: TenantContextMode): Promise<void> {
  if (!groups.length) return;
  try {
    result.transactions++;
    await runPerTenantBatch(pool, batchStatements(groups, tenantContext), tenantContext);
    for (const group of groups) result.written.push(...group.events);
    return;
  } catch (error) {
    if (isUnavailable(error)) {
      result.unavailable = error;
      for (const group of groups) result.retry.push(...group.events);
      return;
    }
    if (groups.length === 1 && groups[0]!.events.length === 1) {
      result.rejected.push({ event: groups[0]!.events[0]!, error });
      return;
    }
  }
  // Smaller parts: each tenant alone, and a failing tenant's events one by one.
  const parts =
    groups.length > 1
      ? groups.map((group) => [group])
      : groups[0]!.events.map((event, index) => [{ tenantId: groups[0]!.tenantId, events: [event], rows: [groups[0]!.rows[index]!] }]);
  for (const [index, part] of parts.entries()) {
    await writeIsolated(pool, part, result, tenantContext);
    if (result.retry.length) {
      // The database became unavailable: everything not yet tried waits for the next attempt as well.
      for (const rest of parts.slice(index + 1)) for (const group of rest) result.retry.push(...group.events);
      return;
    }
  }
}

/**
 * What runPerTenantBatch runs for `groups`. In the standard tenant context every tenant named by its id goes into
 * ONE call of app.write_audit_events (migrations/0020), which switches tenants itself: one statement per batch
 * instead of two per tenant, its inner statements prepared once per connection. A tenant named otherwise (an
 * external name, which app.enter_tenant resolves) and every tenant in the Citus context (SET LOCAL is the form
 * Citus forwards) get the per-tenant statement of groupStatement after runPerTenantBatch's own switch.
 */
function batchStatements(groups: readonly Group[], tenantContext: TenantContextMode): TenantStatements[] {
  const byId = tenantContext === 'standard' ? groups.filter((group) => isValidTenantId(group.tenantId)) : [];
  const rest = groups.filter((group) => !byId.includes(group));
  return [
    ...(byId.length ? [{ tenantId: byId[0]!.tenantId, statements: [functionCall(byId)] }] : []),
    ...rest.map((group) => ({ tenantId: group.tenantId, statements: [groupStatement(group.rows)] })),
  ];
}

/**
 * SQLSTATE classes that say nothing about the events themselves: connection exceptions (08), insufficient
 * resources (53), operator intervention such as a statement timeout or a shutdown (57), transaction rollback
 * such as a deadlock (40), system errors (58). An error without a SQLSTATE is a connection or pool error.
 */
export function isUnavailable(error: unknown): boolean {
  if (error instanceof TypeError) return false;
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== 'string' || !/^[0-9A-Z]{5}$/.test(code)) return true;
  return ['08', '53', '57', '40', '58'].includes(code.slice(0, 2)) || code === '55P03';
}

function groupByTenant(events: readonly AuditEvent[]): Map<string, AuditEvent[]> {
  const byTenant = new Map<string, AuditEvent[]>();
  for (const event of events) {
    const group = byTenant.get(event.tenantId);
    if (group) group.push(event);
    else byTenant.set(event.tenantId, [event]);
  }
  return byTenant;
}

const COLUMNS = 'created_at, user_id, request_id, source, operation_type, operation_name, outcome, duration_ms, events_delivered';
/** The SQL type of each of COLUMNS, for the casts of the literals. */
const TYPES = ['timestamptz', 'uuid', 'text', 'text', 'text', 'text', 'text', 'integer', 'integer'] as const;

/** An event's values as SQL literals, in the order of COLUMNS; throws a TypeError for a value that cannot be inlined. */
function literalRow(event: AuditEvent): string[] {
  const row = auditRow(event);
  return [
    row.created_at,
    row.user_id,
    row.request_id,
    row.source,
    row.operation_type,
    row.operation_name,
    row.outcome,
    row.duration_ms,
    row.events_delivered ?? null,
  ].map(literal);
}

/**
 * Every event of tenants named by their ids as ONE call of app.write_audit_events, grouped by tenant as the
 * function expects: one array per column (pg's escapeLiteral for every text, validated digits for the tenant ids,
 * see `literal`), each cast once to its type.
 */
function functionCall(groups: readonly Group[]): string {
  const tenants: string[] = [];
  const columns: string[][] = TYPES.map(() => []);
  for (const group of groups) {
    for (const row of group.rows) {
      // SECURITY: inlined only after isValidTenantId (decimal digits), like the prologue's tenant id.
      tenants.push(group.tenantId);
      for (const [index, value] of row.entries()) columns[index]!.push(value);
    }
  }
  const arrays = [`array[${tenants.join(',')}]::bigint[]`, ...columns.map((values, index) => `array[${values.join(',')}]::${TYPES[index]}[]`)];
  return `select app.write_audit_events(${arrays.join(',')})`;
}

/**
 * One tenant's events as ONE statement, run after runPerTenantBatch switched to that tenant: the events go to
 * `audit_events` when the tenant row is visible under RLS (it exists), otherwise only their ids, time and
 * reason go to `refused_context_switches`. Every value is a literal (runPerTenantBatch uses the simple protocol).
 */
function groupStatement(rows: readonly string[][]): string {
  const values = rows.map((row) => `(${row.map((value, index) => `${value}::${TYPES[index]}`).join(',')})`);
  return (
    `with e (${COLUMNS}) as (values ${values.join(',')}),` +
    ` known as (select exists (select from tenants where id = app.current_tenant_id()) as tenant_exists),` +
    ` written as (insert into audit_events (${COLUMNS}) select e.* from e where (select tenant_exists from known))` +
    ` insert into refused_context_switches (claimed_tenant_id, user_id, request_id, occurred_at, reason)` +
    ` select app.current_tenant_id(), e.user_id, e.request_id, e.created_at, 'unknown_tenant' from e where not (select tenant_exists from known)`
  );
}
