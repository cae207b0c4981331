import type { ApolloServerPlugin } from '@apollo/server';
import { unwrapResolverError } from '@apollo/server/errors';
import type { GraphQLError } from 'graphql';
import { UnauthenticatedError, type AuthFailureReason } from '../../errors/app-error.js';
import { mapDatabaseError } from '../../errors/database-errors.js';
import type { Metrics } from '../../observability/metrics.js';
import type { RequestContext } from '../../graphql/request-context.js';

/**
 * Feeds the request's telemetry (operation, whether it executed) and counts authentication failures by reason:
 * a bad token fails the context factory (contextCreationDidFail), a missing token is refused by the
 * authentication plugin and a non-member by the transaction prologue (didEncounterErrors).
 */
export function telemetryPlugin(metrics: Metrics): ApolloServerPlugin<RequestContext> {
  return {
    async contextCreationDidFail({ error }) {
      if (error instanceof UnauthenticatedError) metrics.authenticationFailed(error.reason);
    },
    async requestDidStart() {
      return {
        async didResolveOperation({ operation, contextValue }) {
          contextValue.telemetry.operationType = operation?.operation;
          contextValue.telemetry.operationName = operation?.name?.value;
        },
        async executionDidStart({ contextValue }) {
          contextValue.telemetry.executed = true;
        },
        async didEncounterErrors({ errors }) {
          const reason = authFailureReason(errors);
          if (reason) metrics.authenticationFailed(reason);
        },
      };
    },
  };
}

/** The first UNAUTHENTICATED error's reason: a request counts once, however many resolvers saw the refusal. */
function authFailureReason(errors: readonly GraphQLError[]): AuthFailureReason | undefined {
  for (const error of errors) {
    const original = unwrapResolverError(error);
    const mapped = original instanceof UnauthenticatedError ? original : mapDatabaseError(original);
    if (mapped instanceof UnauthenticatedError) return mapped.reason;
  }
  return undefined;
}
