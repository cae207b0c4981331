import { missingTokenError, type Principal } from '../auth/token-verifier.js';
import { createLoaders, type Loaders } from '../modules/index.js';
import { createRequestTelemetry, type RequestTelemetry } from '../observability/request-telemetry.js';
import type { AppDatabase } from '../db/kysely.js';
import { RequestTransaction, type RequestTransactionSettings } from '../tenancy/request-transaction.js';
import type { TenantTransaction } from '../tenancy/tenant-transaction.js';

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

export function createRequestContext(
  database: AppDatabase,
  settings: RequestTransactionSettings,
  requestId: string,
  principal: Principal | null,
  telemetry: RequestTelemetry = createRequestTelemetry(),
): RequestContext {
  const transaction = principal ? new RequestTransaction(database, principal, settings, requestId) : null;
  const tx = transaction
    ? () => transaction.get()
    : () => Promise.reject(missingTokenError());
  return { requestId, principal, transaction, tx, loaders: createLoaders(tx), telemetry };
}

/** The principal of an authenticated request (resolvers only run for those, see the auth plugin). */
export function principalOf(context: RequestContext): Principal {
  if (!context.principal) throw missingTokenError();
  return context.principal;
}
