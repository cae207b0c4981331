import { GraphQLError } from 'graphql';

/** Every error code a client can see in `extensions.code`. */
export type ErrorCode =
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'BAD_USER_INPUT'
  | 'SERVICE_UNAVAILABLE'
  | 'TOO_MANY_CONCURRENT_REQUESTS'
  | 'RESPONSE_TOO_LARGE'
  | 'SERVER_BUSY'
  | 'RATE_LIMITED'
  | 'REQUEST_TIMEOUT'
  /** GRAPHQL_TRUSTED_DOCUMENTS: the request's document id is not in the manifest (400). */
  | 'PERSISTED_QUERY_NOT_FOUND'
  /** GRAPHQL_TRUSTED_DOCUMENTS: the request's query text is not a trusted operation (400). */
  | 'OPERATION_NOT_TRUSTED'
  | 'INTERNAL_SERVER_ERROR';

const HTTP_STATUS: Partial<Record<ErrorCode, number>> = {
  UNAUTHENTICATED: 401,
  SERVICE_UNAVAILABLE: 503,
  SERVER_BUSY: 503,
  RATE_LIMITED: 429,
  REQUEST_TIMEOUT: 503,
};

/** The base of every error we throw on purpose. Its message is written for the API's user. */
export class AppError extends GraphQLError {
  constructor(
    readonly code: ErrorCode,
    message: string,
    extra: Record<string, unknown> = {},
  ) {
    const status = HTTP_STATUS[code];
    super(message, { extensions: { code, ...extra, ...(status ? { http: { status } } : {}) } });
  }
}

/**
 * Why a request was not authenticated: a closed set, so it can label a metric
 * (`tenantgraph_auth_failures_total{reason}`) without letting clients create new series.
 */
export type AuthFailureReason = 'missing' | 'malformed' | 'expired' | 'signature' | 'claims' | 'not_member' | 'other';

export const AUTH_FAILURE_REASONS: readonly AuthFailureReason[] = [
  'missing',
  'malformed',
  'expired',
  'signature',
  'claims',
  'not_member',
  'other',
];

export class UnauthenticatedError extends AppError {
  constructor(
    message: string,
    readonly reason: AuthFailureReason = 'other',
  ) {
    super('UNAUTHENTICATED', message);
  }
}

export class ForbiddenError extends AppError {
  constructor(message: string) {
    super('FORBIDDEN', message);
  }
}

/** SECURITY: also what another tenant's id produces, so the two cases cannot be told apart. */
export class NotFoundError extends AppError {
  constructor(what: string, id: string) {
    super('NOT_FOUND', `No ${what} with id ${JSON.stringify(id)} exists.`);
  }
}

export class BadUserInputError extends AppError {
  constructor(message: string, field?: string) {
    super('BAD_USER_INPUT', message, field ? { field } : {});
  }
}

export class ServiceUnavailableError extends AppError {
  constructor(message: string) {
    super('SERVICE_UNAVAILABLE', message);
  }
}

/** HTTP status that a response carrying these codes should have (the most severe wins). */
export function httpStatusForCodes(codes: Iterable<unknown>): number | undefined {
  let status: number | undefined;
  for (const code of codes) {
    const candidate = HTTP_STATUS[code as ErrorCode];
    if (candidate && (!status || candidate > status)) status = candidate;
  }
  return status;
}
