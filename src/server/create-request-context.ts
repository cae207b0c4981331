import { missingTokenError, type Principal } from '../auth/token-verifier.js';
import type { AppDatabase } from '../db/kysely.js';
import type { RequestContext } from '../graphql/request-context.js';
import { createLoaders } from '../modules/index.js';
import { createRequestTelemetry, type RequestTelemetry } from '../observability/request-telemetry.js';
import { RequestTransaction, type RequestTransactionSettings } from '../tenancy/request-transaction.js';

/**
 * The context of one request: its transaction (begun on first use, its prologue sent with its first statement:
 * RequestTransaction's deferPrologue) and its own loaders, bound to it.
 */
export function createRequestContext(
  database: AppDatabase,
  settings: RequestTransactionSettings,
  requestId: string,
  principal: Principal | null,
  telemetry: RequestTelemetry = createRequestTelemetry(),
): RequestContext {
  const transaction = principal ? new RequestTransaction(database, principal, settings, requestId, { deferPrologue: true }) : null;
  const tx = transaction ? () => transaction.get() : () => Promise.reject(missingTokenError());
  return { requestId, principal, transaction, tx, loaders: createLoaders(tx), telemetry };
}
