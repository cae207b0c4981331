import { GraphQLError } from 'graphql';
import { forcedHttpStatus, type ErrorCode } from './error-codes.js';

/** The codes, their HTTP statuses and meanings live in one list (error-codes.ts). */
export type { ErrorCode } from './error-codes.js';

/** The base of every error we throw on purpose. Its message is written for the API's user. */
export class AppError extends GraphQLError {
  constructor(
    readonly code: ErrorCode,
    message: string,
    extra: Record<string, unknown> = {},
  ) {
    const status = forcedHttpStatus(code);
    // An `http` of the caller's own (a status with headers, e.g. Retry-After) wins over the code's status.
    super(message, { extensions: { code, ...(status ? { http: { status } } : {}), ...extra } });
  }
}

/**
 * Why a request was not authenticated: a closed set, so it can label a metric
 * (`tenantgraph_auth_failures_total{reason}`) without letting clients create new series.
 */
export type AuthFailureReason = 'missing' | 'malformed' | 'expired' | 'signature' | 'claims' | 'not_member' | 'unknown_tenant' | 'other';

export const AUTH_FAILURE_REASONS: readonly AuthFailureReason[] = [
  'missing',
  'malformed',
  'expired',
  'signature',
  'claims',
  'not_member',
  'unknown_tenant',
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

/** The tenant is suspended (migrations/0012): refused by the transaction prologue, HTTP 403. */
export class TenantSuspendedError extends AppError {
  constructor() {
    super('TENANT_SUSPENDED', "The token's tenant is suspended; its data is kept. Ask the service's operator to resume it.");
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
    const candidate = forcedHttpStatus(code);
    if (candidate && (!status || candidate > status)) status = candidate;
  }
  return status;
}
