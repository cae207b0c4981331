import { isConnectionFailure } from './connection-failure.js';
import { AppError, BadUserInputError, ForbiddenError, ServiceUnavailableError, UnauthenticatedError } from './app-error.js';

interface PgErrorLike {
  code?: string;
  constraint?: string;
  message?: string;
}

/** Unique constraints a client can hit: the sentence it gets and the input field (`extensions.field`) at fault. */
const UNIQUE_VIOLATIONS: Record<string, { sentence: string; field: string }> = {
  users_tenant_email_key: { sentence: 'A user with this email already exists in your tenant.', field: 'email' },
};

/**
 * Maps a PostgreSQL error to the error the client sees, or undefined for "unexpected" (the caller masks it as
 * INTERNAL_SERVER_ERROR and logs it). The one place that knows SQLSTATEs.
 *
 * SECURITY: messages never carry SQL, constraint names or values from other rows. A unique violation is
 * answered with a sentence about the caller's own tenant only.
 */
export function mapDatabaseError(error: unknown): AppError | undefined {
  if (isConnectionFailure(error)) return databaseUnavailable(error);
  if (!isPgError(error)) return undefined;
  switch (error.code) {
    case '23505': {
      const known = Object.hasOwn(UNIQUE_VIOLATIONS, error.constraint ?? '') ? UNIQUE_VIOLATIONS[error.constraint!] : undefined;
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
      return new ForbiddenError('You do not have permission to make this change.');
    case '57014':
      return new ServiceUnavailableError('The request took too long and was cancelled; try again with a smaller page.');
    case '25006':
      return new AppError('INTERNAL_SERVER_ERROR', 'A write was attempted in a read-only request.');
    case 'TG002':
      return new UnauthenticatedError('The token\'s user is not a member of its tenant.', 'not_member');
    default:
      return undefined;
  }
}

function isPgError(error: unknown): error is PgErrorLike & { code: string } {
  return typeof error === 'object' && error !== null && typeof (error as PgErrorLike).code === 'string' &&
    /^[0-9A-Z]{5}$/.test((error as PgErrorLike).code!);
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
