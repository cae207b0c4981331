import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * The request id of the GraphQL request whose code is running, for log lines written where no request context
 * is at hand: Apollo's `formatError` sees errors of every stage (context creation, plugin hooks, the HTTP
 * parser) but not the context, and a context that failed to build does not exist. The HTTP handler enters the
 * scope once per request.
 */
export const requestScope = new AsyncLocalStorage<{ readonly requestId: string }>();

/** The current request's id, or undefined outside a request. */
export function currentRequestId(): string | undefined {
  return requestScope.getStore()?.requestId;
}
