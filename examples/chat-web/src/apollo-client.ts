import { ApolloClient, ApolloLink, HttpLink, InMemoryCache } from '@apollo/client';
import { SetContextLink } from '@apollo/client/link/context';
import { GraphQLWsLink } from '@apollo/client/link/subscriptions';
import { OperationTypeNode } from 'graphql';
import { createClient } from 'graphql-ws';
import type { Settings } from './settings';

/**
 * One Apollo Client, two transports (README › Realtime): queries and mutations over HTTP, each in its own
 * tenant transaction; subscriptions over one graphql-ws socket on the same URL, authenticated once in
 * `connection_init` with the same Bearer token the HTTP requests carry.
 */
export function createApolloClient(settings: Settings & { token: string }): ApolloClient {
  const http = new SetContextLink(() => ({ headers: { authorization: `Bearer ${settings.token}` } })).concat(new HttpLink({ uri: settings.httpUrl }));
  const socket = new GraphQLWsLink(
    createClient({
      url: settings.wsUrl,
      // The payload form Apollo Sandbox sends too; the server also accepts `authorization`.
      connectionParams: { Authorization: `Bearer ${settings.token}` },
      // graphql-ws retries dropped sockets (1001 when a server stops, 4413 for a slow consumer) but not 4401: an
      // expired token needs a new page load with a fresh one. It would retry 4403 too, which no retry lifts here.
      retryAttempts: 5,
      shouldRetry: (closed: unknown) => (closed as { code?: number }).code !== 4403,
    }),
  );
  return new ApolloClient({
    link: ApolloLink.split(({ operationType }) => operationType === OperationTypeNode.SUBSCRIPTION, socket, http),
    cache: new InMemoryCache(),
  });
}
