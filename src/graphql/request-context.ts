import { missingTokenError, type Principal } from '../auth/token-verifier.js';
// Types only: the modules import this file for principalOf, so a value import back would be a cycle.
import type { Loaders } from '../modules/loaders.js';
import type { RequestTelemetry } from '../observability/request-telemetry.js';
import type { RequestTransaction } from '../tenancy/request-transaction.js';
import type { TenantTransaction } from '../tenancy/tenant-transaction.js';
import type { EnteredIdentity } from '../tenancy/transaction-prologue.js';

/** What every resolver receives. Resolvers reach the database only through `tx()` and `loaders`. */
export interface RequestContext {
  readonly requestId: string;
  /** null only for a request without a token, which may do nothing but introspection. */
  readonly principal: Principal | null;
  /** The request's transaction; null when there is no principal. */
  readonly transaction: RequestTransaction | null;
  /** The request's tenant transaction, begun on first call. */
  readonly tx: () => Promise<TenantTransaction>;
  readonly loaders: Loaders;
  /** Operation and progress, for the request's log line and metrics (see observability/request-telemetry.ts). */
  readonly telemetry: RequestTelemetry;
}

/** The principal of an authenticated request (resolvers only run for those, see the auth plugin). */
export function principalOf(context: RequestContext): Principal {
  if (!context.principal) throw missingTokenError();
  return context.principal;
}

/**
 * The tenant and member the request acts for, as ids: what the token's names (an external tenant id, an external
 * subject) resolved to in the request transaction's prologue. Begins the transaction if it has not begun, and
 * waits for its prologue to have run: a deferred prologue (db/pipelined-prologue.ts) that no statement has
 * carried yet is sent on its own, because a token's subject that looks like a user id may still be an external
 * subject (app.enter_tenant tries both), so only the prologue's row says which user the request acts for.
 * Rejects with the prologue's refusal.
 */
export async function viewerOf(context: RequestContext): Promise<{ tenantId: string; userId: string }> {
  principalOf(context);
  await context.tx();
  const identity: EnteredIdentity | undefined = await context.transaction?.entered();
  if (!identity?.userId) throw new Error('viewerOf: the request transaction began without a member');
  return { tenantId: identity.tenantId, userId: identity.userId };
}
