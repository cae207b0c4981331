import { isValidTenantId, isValidUserId } from '../ids/entity-ids.js';

/**
 * The one SQL string that opens a tenant transaction: `start transaction` and `app.enter_tenant(…)` (every
 * transaction-local setting and the membership check), sent as a single simple-protocol query, so the tenant
 * costs no extra round trip and the prologue is two statements.
 *
 * SECURITY: the simple protocol takes no parameters, so values are inlined. Each one is validated against a
 * strict pattern first (tenant: decimal digits, user: a UUID, timeouts: integers), which leaves nothing that
 * could close the string literal. Settings are transaction-local (`set_config(..., true)`): they vanish at
 * commit or rollback, so a pooled connection never carries a tenant into the next request. A session-level
 * SET would survive there.
 */
export interface TenantScope {
  /** Positive decimal integer as a string: tenant ids exceed 2^53, so they are never JavaScript numbers. */
  readonly tenantId: string;
  /**
   * The member's UUID (the token's `sub`), checked against the tenant's members by the prologue.
   * null only for the server's own bookkeeping (writing audit events), which acts for no user.
   */
  readonly userId: string | null;
}

export interface TransactionMode {
  readonly readOnly: boolean;
  readonly statementTimeoutMs: number;
  readonly idleInTransactionTimeoutMs: number;
  /**
   * `repeatable read`: every statement sees one snapshot (a tenant export reads many tables that must agree).
   * Default: the server's default, read committed, as every API request.
   */
  readonly isolation?: 'repeatable read';
}

export function buildTransactionPrologue(scope: TenantScope, mode: TransactionMode): string {
  if (!isValidTenantId(scope.tenantId)) {
    throw new TypeError(`Tenant id must be a positive 64-bit decimal integer, received ${JSON.stringify(scope.tenantId)}`);
  }
  if (scope.userId !== null && !isValidUserId(scope.userId)) {
    throw new TypeError(`User id must be a lowercase UUID, received ${JSON.stringify(scope.userId)}`);
  }
  const timeouts = [mode.statementTimeoutMs, mode.idleInTransactionTimeoutMs];
  if (!timeouts.every((ms) => Number.isInteger(ms) && ms >= 0 && ms <= 2_147_483_647)) {
    throw new TypeError(`Timeouts must be non-negative integers, received ${JSON.stringify(timeouts)}`);
  }
  // app.enter_tenant (migrations/0004): transaction-local tenant, user and timeouts, then the membership check,
  // which fails with SQLSTATE TG002 when the user is not (or no longer) a member of the tenant.
  const member = scope.userId === null ? 'null' : `'${scope.userId}'`;
  return (
    `start transaction ${mode.isolation === 'repeatable read' ? 'isolation level repeatable read, ' : ''}${mode.readOnly ? 'read only' : 'read write'};` +
    `select app.enter_tenant('${scope.tenantId}',${member},${mode.statementTimeoutMs},${mode.idleInTransactionTimeoutMs})`
  );
}
