import type { OperationTypeNode } from 'graphql';
import type { TransactionOutcome } from '../tenancy/request-transaction.js';

/**
 * What one GraphQL request's log line and metrics need, filled in as the request goes: the HTTP handler creates
 * it, the telemetry plugin records the operation, the transaction records its own outcome.
 */
export interface RequestTelemetry {
  /** `performance.now()` when the request arrived. */
  readonly startedAt: number;
  operationType: OperationTypeNode | undefined;
  /** The resolved operation's name (undefined for an anonymous one, or before it resolved). */
  operationName: string | undefined;
  /** True once execution began; a request that never executed was rejected (parse, validation, auth, limits). */
  executed: boolean;
}

export function createRequestTelemetry(): RequestTelemetry {
  return { startedAt: performance.now(), operationType: undefined, operationName: undefined, executed: false };
}

/** The `outcome` of the request log line. */
export type RequestOutcome = 'committed' | 'rolled_back' | 'rejected' | 'none';

/**
 * committed / rolled_back: the request's transaction ended so; rejected: refused before execution (no context,
 * parse or validation error, authentication, limits) or its tenant context was refused; none: it executed
 * without opening a transaction (introspection).
 */
export function requestOutcome(telemetry: RequestTelemetry, transaction: TransactionOutcome | undefined): RequestOutcome {
  if (transaction && transaction !== 'none') return transaction;
  return telemetry.executed ? 'none' : 'rejected';
}
