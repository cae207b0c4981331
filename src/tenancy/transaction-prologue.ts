import type { TenantContextMode } from '../db/tenant-catalog.js';
import type { JoinRequest } from './just-in-time-membership.js';
import { isValidExternalSubject, isValidExternalTenantId, isValidTenantId } from '../ids/entity-ids.js';

/**
 * The one SQL string that opens a tenant transaction: `start transaction` and `app.enter_tenant(…)` (every
 * transaction-local setting and the membership check), sent as a single simple-protocol query, so the tenant
 * costs no extra round trip and the prologue is two statements.
 *
 * SECURITY: the simple protocol takes no parameters, so values are inlined. Each one is validated against a
 * strict pattern first (tenant: decimal digits or an external id, user: a UUID or an external subject — both
 * printable ASCII without quote or backslash —, timeouts: integers), which leaves nothing that could close the
 * string literal. Settings are transaction-local (`set_config(..., true)`): they vanish at
 * commit or rollback, so a pooled connection never carries a tenant into the next request. A session-level
 * SET would survive there.
 */
export interface TenantScope {
  /**
   * The tenant as the caller names it: its id, a positive decimal integer as a string (tenant ids exceed 2^53, so
   * they are never JavaScript numbers), or — for a token of an identity provider — its external id
   * (tenants.external_id, never all digits). The prologue resolves an external id to the tenant's id (in Citus mode:
   * checks the id remembered for it, see buildTransactionPrologue's `knownTenantId`).
   */
  readonly tenantId: string;
  /**
   * The member: a user's UUID or an external subject (users.external_subject), the token's `sub`, checked against
   * the tenant's members by the prologue. null only for the server's own bookkeeping (writing audit events),
   * which acts for no user.
   */
  readonly userId: string | null;
  /**
   * Set only for a verified token when just-in-time membership is on: a subject that is not a member yet joins the
   * tenant with this (see just-in-time-membership.ts). Never part of the prologue itself.
   */
  readonly joinAs?: JoinRequest;
}

/** The tenant and user a prologue entered: what the names of a {@link TenantScope} resolved to. */
export interface EnteredIdentity {
  /** The tenant's id (decimal digits). */
  readonly tenantId: string;
  /** The member's UUID; null for bookkeeping. */
  readonly userId: string | null;
}

export type { TenantContextMode };

export interface TransactionMode {
  readonly readOnly: boolean;
  readonly statementTimeoutMs: number;
  readonly idleInTransactionTimeoutMs: number;
  /**
   * `repeatable read`: every statement sees one snapshot (a tenant export reads many tables that must agree).
   * Default: the server's default, read committed, as every API request.
   */
  readonly isolation?: 'repeatable read';
  /**
   * How the tenant is applied (TENANT_CONTEXT_MODE). `standard` (default): app.enter_tenant sets it with
   * `set_config(…, true)`. `citus`: also a `SET LOCAL app.current_tenant = '<digits>'` before app.enter_tenant, in the
   * same string, because Citus forwards to the workers only SET LOCAL (with `citus.propagate_set_commands =
   * 'local'`), never set_config. An external tenant id needs the tenant id remembered for it there.
   */
  readonly tenantContext?: TenantContextMode;
  /**
   * Send the prologue with the transaction's first statement, in its round trip, instead of on its own when the
   * transaction begins (db/pipelined-prologue.ts). beginTenantTransaction applies it only to a scope that names
   * its tenant by id (in Citus mode an external id needs its lookup first); the transaction is then returned
   * before the prologue ran, and its first statement fails with the prologue's refusal.
   */
  readonly deferPrologue?: boolean;
}

/**
 * `knownTenantId`, in Citus mode only, for a scope that names its tenant by an external id: the tenant id the server
 * remembers for it (external-tenant-ids.ts). It goes into SET LOCAL, and the external id into app.enter_tenant's
 * five-argument form (migrations/0019), which enters that tenant only if the external id is still exactly its own,
 * so a stale one fails closed (TG002, DETAIL 'stale_external_id'). beginTenantTransaction supplies it.
 */
export function buildTransactionPrologue(scope: TenantScope, mode: TransactionMode, knownTenantId?: string): string {
  return buildTransactionPrologueStatements(scope, mode, knownTenantId).join(';');
}

/**
 * The prologue's statements one by one (what {@link buildTransactionPrologue} joins with `;`), each a single
 * statement without parameters, validated as above: for a prologue sent on the extended protocol together with
 * the transaction's first statement (db/pipelined-prologue.ts).
 */
export function buildTransactionPrologueStatements(scope: TenantScope, mode: TransactionMode, knownTenantId?: string): string[] {
  if (!isValidTenantId(scope.tenantId) && !isValidExternalTenantId(scope.tenantId)) {
    throw new TypeError(`Tenant must be a positive 64-bit decimal id or an external id, received ${JSON.stringify(scope.tenantId)}`);
  }
  // A UUID passes too: the external-name pattern contains the UUID alphabet.
  if (scope.userId !== null && !isValidExternalSubject(scope.userId)) {
    throw new TypeError(
      `User must be a UUID or an external subject (printable ASCII, no quote or backslash), received ${JSON.stringify(scope.userId)}`,
    );
  }
  const citus = mode.tenantContext === 'citus';
  const external = !isValidTenantId(scope.tenantId);
  if (knownTenantId !== undefined && !(citus && external && isValidTenantId(knownTenantId))) {
    throw new TypeError(
      `knownTenantId is the tenant id behind an external tenant id in Citus mode, received ${JSON.stringify(knownTenantId)} for ${JSON.stringify(scope.tenantId)} in ${mode.tenantContext ?? 'standard'} mode`,
    );
  }
  // SECURITY: in Citus mode the tenant is inlined into SET LOCAL before app.enter_tenant checks anything, so only a
  // tenant id proper (decimal digits, checked above by the same pattern) can be applied there.
  if (citus && external && knownTenantId === undefined) {
    throw new TypeError(
      `TENANT_CONTEXT_MODE=citus applies the tenant with SET LOCAL before app.enter_tenant runs, so an external tenant id (${JSON.stringify(scope.tenantId)}) needs the tenant id remembered for it: open the transaction with beginTenantTransaction, which looks it up.`,
    );
  }
  const timeouts = [mode.statementTimeoutMs, mode.idleInTransactionTimeoutMs];
  if (!timeouts.every((ms) => Number.isInteger(ms) && ms >= 0 && ms <= 2_147_483_647)) {
    throw new TypeError(`Timeouts must be non-negative integers, received ${JSON.stringify(timeouts)}`);
  }
  // app.enter_tenant (migrations/0012): resolves external names, sets the transaction-local tenant, user and
  // timeouts, refuses a suspended tenant (SQLSTATE TG004) and a user who is not (or no longer) a member of the
  // tenant, or a tenant that does not exist (TG002), and returns the tenant and user it entered.
  const member = scope.userId === null ? 'null' : `'${scope.userId}'`;
  const tenant = knownTenantId ?? scope.tenantId;
  const checkedName = knownTenantId === undefined ? '' : `,'${scope.tenantId}'`;
  return [
    `start transaction ${mode.isolation === 'repeatable read' ? 'isolation level repeatable read, ' : ''}${mode.readOnly ? 'read only' : 'read write'}`,
    ...(citus ? [`set local app.current_tenant = '${tenant}'`] : []),
    `select * from app.enter_tenant('${tenant}',${member},${mode.statementTimeoutMs},${mode.idleInTransactionTimeoutMs}${checkedName})`,
  ];
}
