import type { ApolloServerPlugin } from '@apollo/server';
import { AppError } from '../../errors/app-error.js';
import type { RequestContext } from '../../graphql/request-context.js';

/**
 * The schema has no Subscription type, yet graphql-js validates `subscription { … }` and only refuses it at
 * execution, as an INTERNAL_SERVER_ERROR with status 200. Refuse it up front as the client's mistake (400).
 */
export function operationKindPlugin(): ApolloServerPlugin<RequestContext> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ operation }) {
          if (operation?.operation !== 'subscription') return;
          throw new AppError('BAD_REQUEST', 'This API has no subscriptions; send a query or a mutation.', { http: { status: 400 } });
        },
      };
    },
  };
}
