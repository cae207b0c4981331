import type { ApolloServerPlugin } from '@apollo/server';
import { unwrapResolverError } from '@apollo/server/errors';
import type { GraphQLFormattedError } from 'graphql';
import { GraphQLError } from 'graphql';
import { AppError, httpStatusForCodes } from '../../errors/app-error.js';
import { mapDatabaseError, missingPrivilegeOf } from '../../errors/database-errors.js';
import { withInputField } from '../../errors/input-error-field.js';
import { rewriteTokenLimitError } from '../../errors/query-limit-errors.js';
import { UNIQUE_VIOLATIONS } from '../../modules/index.js';
import { capLogPath, errorForLog } from '../../observability/log-fields.js';
import { requestIdOfError, tagErrorWithRequest } from '../../observability/error-request-ids.js';
import type { Logger } from '../logger.js';
import type { RequestContext } from '../../graphql/request-context.js';

/**
 * The error policy, in one place:
 *  - AppErrors and GraphQL's own errors (parse, validation, variable coercion) go to the client as they are,
 *    except the parser's token limit, which becomes TOO_MANY_TOKENS;
 *  - known PostgreSQL errors become AppErrors (database-errors.ts);
 *  - input errors of variables get `extensions.field` (input-error-field.ts);
 *  - everything else is masked as INTERNAL_SERVER_ERROR (and logged with the request id, see loggingFormatError).
 * SECURITY: no SQL, constraint names or stack traces reach a client in production.
 */
export function formatError(formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError {
  return withInputField(formatOwnError(formatted, error));
}

function formatOwnError(formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError {
  const cause = causeOf(error);
  if (cause instanceof AppError) return withoutStacktrace(formatted, cause);
  // The parser's token limit is a limit, not a syntax error (query-limit-errors.ts).
  if (cause instanceof GraphQLError) return rewriteTokenLimitError(formatted) ?? formatted;
  const mapped = mapDatabaseError(cause, UNIQUE_VIOLATIONS);
  if (mapped) {
    // The mapped error's own extensions (e.g. `field` of a unique violation), never its `http`.
    const { http: _http, ...extensions } = mapped.extensions;
    return { message: mapped.message, ...(formatted.path ? { path: formatted.path } : {}), extensions: { ...extensions, code: mapped.code } };
  }
  return {
    message: 'Internal server error; it has been logged with the request id.',
    ...(formatted.path ? { path: formatted.path } : {}),
    extensions: { code: 'INTERNAL_SERVER_ERROR' },
  };
}

/**
 * `formatError` that also logs every unexpected error, with its request id. Apollo formats every error of every
 * response through it (context creation, plugin hooks, parsing the HTTP request, resolvers), which no single
 * plugin hook sees: `didEncounterErrors` misses a failed context and errors of the HTTP layer. It has no request
 * at hand, so the places that do tag the error's cause with their request id first (error-request-ids.ts): the
 * error plugin's `didEncounterErrors` and the HTTP handler's context factory. (What a plugin hook throws Apollo
 * replaces with a new "Internal server error"; the error plugin logs the original, see below.)
 */
export function loggingFormatError(logger: Logger): (formatted: GraphQLFormattedError, error: unknown) => GraphQLFormattedError {
  return (formatted, error) => {
    const result = formatError(formatted, error);
    if (result.extensions?.code === 'INTERNAL_SERVER_ERROR' && !(causeOf(error) instanceof GraphQLError)) {
      const cause = causeOf(error);
      // A missing GRANT names its table, so the log says which migration forgot it.
      const missingPrivilege = missingPrivilegeOf(cause);
      logger.error(
        {
          err: errorForLog(cause),
          requestId: requestIdOfError(cause),
          path: capLogPath(formatted.path),
          ...(missingPrivilege ? { missingPrivilege } : {}),
        },
        missingPrivilege ? `the app role lacks a privilege on ${missingPrivilege} (a GRANT missing from the migrations)` : 'unexpected error',
      );
    }
    return result;
  };
}

/**
 * The error that decides the policy. Apollo wraps whatever a hook or the context factory throws in a
 * GraphQLError that carries the message of the original (`ensureGraphQLError`): "Maximum call stack size
 * exceeded" went to clients that way. Such a wrapper is judged by its original, and so is a validation or
 * coercion wrapper around an AppError a scalar threw (its code wins over GRAPHQL_VALIDATION_FAILED).
 */
export function causeOf(error: unknown): unknown {
  let cause = unwrapResolverError(error);
  // Wrappers nest (Apollo's SyntaxError around ensureGraphQLError around a RangeError from the parser): walk
  // down to the first AppError or non-GraphQL error; a chain of GraphQL errors only is GraphQL's own.
  for (let depth = 0; depth < 8 && cause instanceof GraphQLError && !(cause instanceof AppError); depth++) {
    const inner: unknown = cause.originalError;
    if (!inner || inner === cause) break;
    cause = inner;
  }
  return cause;
}

function withoutStacktrace(formatted: GraphQLFormattedError, error: AppError): GraphQLFormattedError {
  // Intended errors need no stack trace, not even in development.
  const { http: _http, stacktrace: _stacktrace, ...extensions } = (formatted.extensions ?? {}) as Record<string, unknown>;
  return { ...formatted, extensions: { ...extensions, code: error.code } };
}

/**
 * Gives responses carrying UNAUTHENTICATED / SERVICE_UNAVAILABLE / limit codes their HTTP status and Retry-After,
 * and tells formatError which request an error belongs to.
 */
export function errorPlugin(logger: Logger): ApolloServerPlugin<RequestContext> {
  return {
    // A request hook threw: Apollo answers with a new "Internal server error" of its own, so this is the one
    // place that sees the original with its request.
    async unexpectedErrorProcessingRequest({ requestContext, error }) {
      logger.error({ err: errorForLog(error), requestId: requestContext.contextValue.requestId }, 'unexpected error in a request hook');
    },
    async requestDidStart() {
      return {
        async didEncounterErrors({ errors, contextValue }) {
          for (const error of errors) tagErrorWithRequest(causeOf(error), contextValue.requestId);
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
