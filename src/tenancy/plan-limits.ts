import { sql } from 'kysely';
import type { AppDatabase } from '../db/kysely.js';
import { isValidTenantId } from '../ids/entity-ids.js';
import { runPerTenantBatch } from './per-tenant-batch.js';
import { beginTenantTransaction, commitOrRollBack, enteredIdentityOf } from './tenant-transaction.js';

/** What one tenant may use of the shared server: one row of `plan_limits` (migrations/0008). */
export interface PlanLimits {
  readonly plan: string;
  readonly requestsPerSecond: number;
  readonly burst: number;
  /** Fraction (0, 1] of the pool's tenant connections the tenant may hold at once. */
  readonly connectionShare: number;
  readonly statementTimeoutMs: number;
  readonly requestTimeoutMs: number;
  /**
   * The tenant's id, when the lookup was made by another name (an external id): the fair scheduler and the rate
   * limiter count a tenant under its id, whichever name its tokens use. A fairness key only, never an access
   * decision (the request's prologue resolves the name again: uncached in the standard mode, in Citus mode the
   * remembered id checked against the name, external-tenant-ids.ts).
   */
  readonly tenantId?: string;
}

/**
 * How long a tenant's cached limits are fresh while no plan-change listener vouches for the notices
 * (PLAN_CACHE_TTL_MS, startServer's default; the cache is plan-limits-cache.ts): the longest a plan change may
 * take to reach a replica that does not hear it. Plan changes are rare commercial events; a re-read per tenant
 * per 30 s keeps them out of the request path at thousands of tenants.
 */
export const DEFAULT_PLAN_CACHE_TTL_MS = 30_000;

export type PlanLimitsSource = (tenantId: string) => Promise<PlanLimits>;

/**
 * Reads a tenant's plan limits in a read-only bookkeeping transaction of that tenant (userId null), so the
 * tenant row is read under RLS like everywhere else. A tenant that does not exist (a deleted tenant's token)
 * gets the most restrictive plan, so limits are never looser than the table allows; its request then fails the
 * membership check anyway. `tenantId` may be an external id (the token's name for the tenant): the bookkeeping
 * prologue resolves it, and an unknown one is refused there (TG002) like the request itself would be.
 *
 * `database` should be an instance whose statements are not attributed to requests (create-server.ts uses one
 * without the request statement observer); its connection comes from the pool slots kept for the server's own
 * work, not from the tenants' fair share.
 */
export function planLimitsFromDatabase(database: AppDatabase, timeoutMs: number): PlanLimitsSource {
  const timeouts = { statementTimeoutMs: timeoutMs, idleInTransactionTimeoutMs: timeoutMs };
  return async (tenantId) => {
    // Citus mode with an external tenant id needs the id remembered for it before its prologue can be written
    // (tenant-transaction.ts): a transaction of its own. Every other read is one round trip: prologue, the
    // plan's row and COMMIT in one string (per-tenant-batch.ts), where a transaction of statements took three.
    if (database.tenantContext === 'citus' && !isValidTenantId(tenantId)) return readInTransaction(database, tenantId, timeouts);
    const results = await runPerTenantBatch(database.pool, [{ tenantId, statements: [PLAN_OF_CURRENT_TENANT] }], {
      ...timeouts,
      readOnly: true,
      tenantContext: database.tenantContext ?? 'standard',
    });
    // …; select * from app.enter_tenant(…); <the plan>; commit
    const entered = results.at(-3)?.rows[0] as { entered_tenant: string | number } | undefined;
    if (!entered) throw new Error('The tenant prologue returned no row; expected app.enter_tenant of migrations/0012 (run the migrations)');
    return limitsOf(results.at(-2)?.rows[0] as PlanRow | undefined, String(entered.entered_tenant));
  };
}

/** The current tenant's plan (every tenant has one: tenants.plan references plan_limits), or the most restrictive. */
const PLAN_OF_CURRENT_TENANT = `select p.plan, p.requests_per_second, p.burst, p.connection_share, p.statement_timeout_ms, p.request_timeout_ms
           from plan_limits p left join tenants t on t.plan = p.plan and t.id = app.current_tenant_id()
          order by t.id is null, p.requests_per_second, p.plan
          limit 1`;

interface PlanRow {
  plan: string;
  requests_per_second: number;
  burst: number;
  connection_share: string;
  statement_timeout_ms: number;
  request_timeout_ms: number;
}

async function readInTransaction(
  database: AppDatabase,
  tenantId: string,
  timeouts: { statementTimeoutMs: number; idleInTransactionTimeoutMs: number },
): Promise<PlanLimits> {
  const tx = await beginTenantTransaction(database, { tenantId, userId: null }, { readOnly: true, ...timeouts });
  const rows = await commitOrRollBack(tx, async () => (await sql.raw<PlanRow>(PLAN_OF_CURRENT_TENANT).execute(tx)).rows);
  return limitsOf(rows[0], enteredIdentityOf(tx).tenantId);
}

function limitsOf(row: PlanRow | undefined, tenantId: string): PlanLimits {
  if (!row) throw new Error('The plan_limits table is empty; migration 0008 inserts the default plans. Add at least one plan.');
  return {
    tenantId,
    plan: row.plan,
    requestsPerSecond: row.requests_per_second,
    burst: row.burst,
    connectionShare: Number(row.connection_share),
    statementTimeoutMs: row.statement_timeout_ms,
    requestTimeoutMs: row.request_timeout_ms,
  };
}
