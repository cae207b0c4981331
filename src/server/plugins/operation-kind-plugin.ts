import type { ApolloServerPlugin } from '@apollo/server';
import { AppError } from '../../errors/app-error.js';
import type { RequestContext } from '../../graphql/request-context.js';

/**
 * Subscriptions are served over WebSocket (graphql-ws, server/realtime-server.ts), not over HTTP, where
 * graphql-js would answer them with an INTERNAL_SERVER_ERROR at status 200. Refuse them up front as the
 * client's mistake (400), saying where to send them.
 */
export function operationKindPlugin(): ApolloServerPlugin<RequestContext> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ operation }) {
          if (operation?.operation !== 'subscription') return;
          throw new AppError(
            'BAD_REQUEST',
            'Subscriptions are served over WebSocket (graphql-ws protocol) at this same /graphql path; HTTP carries queries and mutations.',
            { http: { status: 400 } },
          );
        },
      };
    },
  };
}
