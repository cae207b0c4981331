import type { ApolloServerPlugin, GraphQLRequestContext } from '@apollo/server';
import { isConnectionFailure } from '../../errors/connection-failure.js';
import type { AppError, ErrorCode } from '../../errors/app-error.js';
import type { Metrics } from '../../observability/metrics.js';
import type { Logger } from '../logger.js';
import type { RequestContext } from '../../graphql/request-context.js';
import { RESPONSE_TOO_LARGE_STATUS, resultSizeOver, responseTooLargeError } from '../response-size-limit.js';

/**
 * Ends the request's transaction. `willSendResponse` runs for every request that reached `requestDidStart`
 * (success, field errors, parse and validation errors) and before the body is written:
 *   - any error => ROLLBACK (a mutation is all-or-nothing);
 *   - otherwise COMMIT; if COMMIT fails the response is rewritten to an error, never claiming success, and so it
 *     is when the transaction was already rolled back meanwhile (shutdown deadline, client gone).
 *   - a mutation whose result is over `maxResponseBytes` => ROLLBACK and RESPONSE_TOO_LARGE (response-size-limit.ts):
 *     a response the server refuses to send must not hide a saved change.
 * Each outcome is counted in tenantgraph_transactions_total.
 * Requests Apollo rejects before `requestDidStart`, and clients that disconnect, are rolled back by the HTTP
 * handler (see http-handler.ts), which also releases whatever is still open once Apollo has answered.
 */
export function requestTransactionPlugin(logger: Logger, metrics?: Metrics, maxResponseBytes?: number): ApolloServerPlugin<RequestContext> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ operation, contextValue }) {
          // Decides READ ONLY vs READ WRITE before the first statement begins the transaction.
          if (contextValue.transaction && operation) {
            contextValue.transaction.operationType = operation.operation;
            contextValue.transaction.operationName = operation.name?.value;
          }
        },
        async willSendResponse(requestContext) {
          const transaction = requestContext.contextValue.transaction;
          if (!transaction?.began) return;
          if (requestContext.errors?.length) {
            const outcome = await transaction.rollback();
            metrics?.transactionEnded(outcome);
            // Already rolled back elsewhere (request deadline, shutdown, client gone): its errors are only the consequence.
            // A deadline's cancelled statement may fail before the deadline's own rollback runs: the client is told
            // which limit ended the request, not the cancellation it caused.
            if (outcome === 'none' || transaction.cancelReason) replaceWithError(requestContext, 503, CANCELLED, transaction.cancelReason);
            return;
          }
          const { body } = requestContext.response;
          if (maxResponseBytes !== undefined && transaction.operationType === 'mutation' && body.kind === 'single') {
            const size = resultSizeOver(body.singleResult, maxResponseBytes);
            if (size !== null) {
              metrics?.transactionEnded(await transaction.rollback());
              requestContext.response.http.status = RESPONSE_TOO_LARGE_STATUS;
              requestContext.response.body = {
                kind: 'single',
                singleResult: { errors: [responseTooLargeError(size, maxResponseBytes, true)] },
              };
              return;
            }
          }
          let outcome;
          try {
            outcome = await transaction.commit();
          } catch (error) {
            metrics?.transactionEnded('rolled_back');
            const requestId = requestContext.contextValue.requestId;
            if (isConnectionFailure(error)) {
              // The connection died during COMMIT: PostgreSQL may or may not have committed before it went away.
              logger.warn({ err: error, requestId }, 'connection lost during commit; the outcome is unknown');
              replaceWithError(requestContext, 503, COMMIT_OUTCOME_UNKNOWN);
              return;
            }
            logger.error({ err: error, requestId }, 'commit failed');
            replaceWithError(requestContext, 500, COMMIT_FAILED);
            return;
          }
          metrics?.transactionEnded(outcome);
          // Someone else ended it first: the HTTP handler (client gone) or the shutdown deadline rolled it back.
          if (outcome !== 'committed') replaceWithError(requestContext, 503, CANCELLED, transaction.cancelReason);
        },
      };
    },
  };
}

const COMMIT_FAILED = 'The change could not be committed and was rolled back; nothing was saved. Try again.';
const COMMIT_OUTCOME_UNKNOWN =
  'The connection to the database was lost while committing: the change may or may not have been saved. Read it back before you retry.';
const CANCELLED = 'The request was cancelled (the server is shutting down) and rolled back; nothing was saved. Try again.';

/** The response must not claim success for work that was not committed. */
function replaceWithError(
  requestContext: GraphQLRequestContext<RequestContext>,
  status: 500 | 503,
  message: string,
  /** The limit that ended the transaction (the request deadline): the client is told which one. */
  reason?: AppError,
): void {
  requestContext.response.http.status = reason ? ((reason.extensions.http as { status?: number } | undefined)?.status ?? status) : status;
  const { http: _http, ...extensions } = reason?.extensions ?? {};
  requestContext.response.body = {
    kind: 'single',
    singleResult: {
      errors: [
        reason
          ? { message: reason.message, extensions }
          : { message, extensions: { code: (status === 500 ? 'INTERNAL_SERVER_ERROR' : 'SERVICE_UNAVAILABLE') satisfies ErrorCode } },
      ],
    },
  };
}
