import { isConnectionFailure } from './connection-failure.js';
import { AppError, BadUserInputError, ForbiddenError, ServiceUnavailableError, TenantSuspendedError, UnauthenticatedError } from './app-error.js';

interface PgErrorLike {
  code?: string;
  constraint?: string;
  detail?: string;
  message?: string;
}

/** What a client is told when a write violates a unique constraint: a sentence, and `extensions.field`. */
export interface UniqueViolation {
  readonly sentence: string;
  readonly field?: string;
}

/**
 * Maps a PostgreSQL error to the error the client sees, or undefined for "unexpected" (the caller masks it as
 * INTERNAL_SERVER_ERROR and logs it). The one place that knows SQLSTATEs.
 *
 * `uniqueViolations` (constraint name -> the sentence and the input field at fault) come from the module registry
 * (src/modules/index.ts).
 *
 * SECURITY: messages never carry SQL, constraint names or values from other rows. A unique violation is
 * answered with a sentence about the caller's own tenant only.
 */
export function mapDatabaseError(error: unknown, uniqueViolations: Readonly<Record<string, UniqueViolation>> = {}): AppError | undefined {
  if (isConnectionFailure(error)) return databaseUnavailable(error);
  if (!isPgError(error)) return undefined;
  switch (error.code) {
    case '23505': {
      const known = Object.hasOwn(uniqueViolations, error.constraint ?? '') ? uniqueViolations[error.constraint!] : undefined;
      return known ? new BadUserInputError(known.sentence, known.field) : new BadUserInputError('This value is already in use in your tenant.');
    }
    case '23503':
      return new AppError('NOT_FOUND', 'A record this change refers to does not exist.');
    case '23514':
    case '22001':
      return new BadUserInputError('A value is outside the allowed range or length.');
    case '22P02':
    case '22021':
    case '22P05':
      return new BadUserInputError('A value has an invalid format or encoding.');
    case '42501':
      // A missing GRANT is the server's bug, not the user's: masked and logged (see missingPrivilegeOf).
      if (missingPrivilegeOf(error)) return undefined;
      return new ForbiddenError('You do not have permission to make this change.');
    case '57014':
      return new ServiceUnavailableError('The request took too long and was cancelled; try again with a smaller page.');
    case '25006':
      return new AppError('INTERNAL_SERVER_ERROR', 'A write was attempted in a read-only request.');
    case 'TG002':
      // app.enter_tenant (migrations/0012): DETAIL 'unknown_tenant' for an external tenant id no tenant has.
      // Citus mode (migrations/0019): DETAIL 'stale_external_id' when the tenant remembered for the token's external
      // id no longer has it and the one fresh lookup found it moved again (or gone) before the retry began.
      if (error.detail === 'unknown_tenant')
        return new UnauthenticatedError("The token's tenant is not known here (no tenant has that external id).", 'unknown_tenant');
      if (error.detail === 'stale_external_id')
        return new UnauthenticatedError(
          "The token's external tenant id moved to another tenant while the request began; send it again.",
          'unknown_tenant',
        );
      return new UnauthenticatedError("The token's user is not a member of its tenant.", 'not_member');
    case 'TG004':
      return new TenantSuspendedError();
    default:
      return undefined;
  }
}

/**
 * SQLSTATE 42501 means two different things: a row refused by a row level security policy ("new row violates
 * row-level security policy for table …", the user's FORBIDDEN) and a privilege the role lacks ("permission
 * denied for table …": a GRANT the migrations forgot, the server's INTERNAL_SERVER_ERROR). Returns the object
 * named in a missing-privilege error (e.g. `table audit_events`), or undefined for every other error.
 * PostgreSQL's messages are English here (lc_messages is not set by this server; a localized server would
 * need `lc_messages = 'C'` on the app role for this to see them).
 */
export function missingPrivilegeOf(error: unknown): string | undefined {
  if (!isPgError(error) || error.code !== '42501') return undefined;
  return /^permission denied for (\w+ \S+)/.exec(error.message ?? '')?.[1];
}

function isPgError(error: unknown): error is PgErrorLike & { code: string } {
  return (
    typeof error === 'object' &&
    error !== null &&
    typeof (error as PgErrorLike).code === 'string' &&
    /^[0-9A-Z]{5}$/.test((error as PgErrorLike).code!)
  );
}

function databaseUnavailable(error: unknown): ServiceUnavailableError {
  const message = error instanceof Error ? error.message : '';
  if (message.includes('timeout exceeded when trying to connect')) {
    return new ServiceUnavailableError('The server is busy (no database connection became free in time); try again shortly.');
  }
  if ((error as { code?: string }).code === '53300') {
    return new ServiceUnavailableError('The database has no free connections; try again shortly.');
  }
  return new ServiceUnavailableError('The database is unavailable at the moment; try again shortly.');
}
