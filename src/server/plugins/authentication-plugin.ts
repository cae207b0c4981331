import type { ApolloServerPlugin } from '@apollo/server';
import type { OperationDefinitionNode } from 'graphql';
import { missingTokenError } from '../../auth/token-verifier.js';
import type { RequestContext } from '../../graphql/request-context.js';

/**
 * A request without a token may only introspect (so Apollo Sandbox can load the schema; whether
 * introspection is allowed at all is Apollo's `introspection` option). Anything else is UNAUTHENTICATED
 * before a single resolver runs. Requests with a bad token never get here: the context factory refuses them.
 */
export function authenticationPlugin(): ApolloServerPlugin<RequestContext> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ contextValue, operation }) {
          if (contextValue.principal || isIntrospectionOnly(operation)) return;
          throw missingTokenError();
        },
      };
    },
  };
}

/** Whether the operation selects only introspection fields (`__schema`, `__type`, `__typename`). */
export function isIntrospectionOnly(operation: OperationDefinitionNode | undefined): boolean {
  return (
    operation?.operation === 'query' &&
    operation.selectionSet.selections.every((selection) => selection.kind === 'Field' && selection.name.value.startsWith('__'))
  );
}
