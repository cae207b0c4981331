import type { Logger } from 'pino';
import type { RequestTransaction, RequestTransactionSettings } from '../tenancy/request-transaction.js';
import type { TransactionStatementEvent } from '../tenancy/tenant-transaction.js';
import { missingPrivilegeOf } from '../errors/database-errors.js';
import type { Metrics } from './metrics.js';

export interface TransactionObserverOptions {
  metrics: Metrics;
  logger: Logger;
  /** Statements that take longer are logged at warn level; 0 turns the log off. */
  slowStatementMs: number;
}

const MAX_LOGGED_SQL = 1000;

/**
 * What a server does with each statement of each request transaction: it knows the transaction, so it can
 * count tenant context switches and RLS violations and log a slow statement with its tenant and request id,
 * which the pool-wide statement observer (db/kysely.ts) cannot. A closure call and two compares per statement.
 *
 * SECURITY: the log carries the statement's SQL text, never its parameters: values (message bodies, emails) are
 * always bound parameters, and the only inlined values, in the tenant prologue, are validated ids.
 */
export function requestTransactionObserver(options: TransactionObserverOptions): NonNullable<RequestTransactionSettings['observeStatement']> {
  const { metrics, logger, slowStatementMs } = options;
  return (event: TransactionStatementEvent, transaction: RequestTransaction) => {
    if (event.error === undefined) {
      // The tenant prologue (tenancy/transaction-prologue.ts) is the only statement that starts this way.
      if (event.sql.startsWith('start transaction')) metrics.tenantContextSwitches.inc();
    } else if ((event.error as { code?: unknown } | null)?.code === '42501') {
      // A missing GRANT is counted apart: it is a deployment bug, while RLS refusals are (attempted) abuse.
      if (missingPrivilegeOf(event.error)) metrics.missingPrivileges.inc();
      else metrics.rlsViolations.inc();
    }
    if (slowStatementMs > 0 && event.durationMs > slowStatementMs) {
      logger.warn(
        {
          requestId: transaction.requestId,
          tenantId: transaction.identity?.tenantId ?? transaction.scope.tenantId,
          userId: transaction.identity?.userId ?? transaction.scope.userId,
          durationMs: Math.round(event.durationMs),
          thresholdMs: slowStatementMs,
          failed: event.error !== undefined,
          sql: event.sql.length > MAX_LOGGED_SQL ? `${event.sql.slice(0, MAX_LOGGED_SQL)}…` : event.sql,
        },
        'slow statement',
      );
    }
  };
}
