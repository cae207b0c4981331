import type { ApolloServerPlugin } from '@apollo/server';
import { unwrapResolverError } from '@apollo/server/errors';
import type { GraphQLFormattedError } from 'graphql';
import { GraphQLError } from 'graphql';
import { AppError, httpStatusForCodes } from '../../errors/app-error.js';
import { mapDatabaseError } from '../../errors/database-errors.js';
import type { Logger } from '../logger.js';
import type { RequestContext } from '../request-context.js';

/**
 * The error policy, in one place:
 *  - AppErrors and GraphQL's own errors (parse, validation, variable coercion) go to the client as they are;
 *  - known PostgreSQL errors become AppErrors (database-errors.ts);
 *  - everything else is masked as INTERNAL_SERVER_ERROR and logged with the request id.
 * SECURITY: no SQL, constraint names or stack traces reach a client in production.
 */
export function formatError(formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError {
  const original = unwrapResolverError(error);
  if (original instanceof AppError) return withoutStacktrace(formatted, original);
  if (original instanceof GraphQLError) return formatted;
  const mapped = mapDatabaseError(original);
  if (mapped) return { message: mapped.message, ...(formatted.path ? { path: formatted.path } : {}), extensions: { code: mapped.code } };
  return {
    message: 'Internal server error; it has been logged with the request id.',
    ...(formatted.path ? { path: formatted.path } : {}),
    extensions: { code: 'INTERNAL_SERVER_ERROR' },
  };
}

function withoutStacktrace(formatted: GraphQLFormattedError, error: AppError): GraphQLFormattedError {
  // Intended errors need no stack trace, not even in development.
  const { http: _http, stacktrace: _stacktrace, ...extensions } = (formatted.extensions ?? {}) as Record<string, unknown>;
  return { ...formatted, extensions: { ...extensions, code: error.code } };
}

/** Logs unexpected errors, gives responses carrying UNAUTHENTICATED / SERVICE_UNAVAILABLE / limit codes their HTTP status and Retry-After. */
export function errorPlugin(logger: Logger): ApolloServerPlugin<RequestContext> {
  return {
    async requestDidStart() {
      return {
        async didEncounterErrors({ errors, contextValue }) {
          for (const error of errors) {
            const original = unwrapResolverError(error);
            if (original instanceof GraphQLError || mapDatabaseError(original)) continue;
            logger.error({ err: original, requestId: contextValue.requestId, path: error.path }, 'unexpected error');
          }
        },
        async willSendResponse({ response }) {
          if (response.body.kind !== 'single') return;
          const codes = (response.body.singleResult.errors ?? []).map((e) => e.extensions?.code);
          const status = httpStatusForCodes(codes);
          if (status) response.http.status = status;
          // RATE_LIMITED and SERVER_BUSY say when to come back (errors/limit-errors.ts).
          const retryAfter = Math.max(0, ...(response.body.singleResult.errors ?? []).map((e) => Number(e.extensions?.retryAfterSeconds) || 0));
          if (retryAfter > 0) response.http.headers.set('retry-after', String(retryAfter));
        },
      };
    },
  };
}
