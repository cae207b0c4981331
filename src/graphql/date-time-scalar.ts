import { Kind, print, type ValueNode } from 'graphql';
import { BadUserInputError } from '../errors/app-error.js';

/**
 * `DateTime`: RFC 3339 `date-time` (section 5.6) with a time zone, limited to what PostgreSQL's timestamptz
 * reads, so no client value reaches SQL to fail there as an INTERNAL_SERVER_ERROR (`"2024"` and
 * `"+020000-01-01T00:00:00Z"` did). Beyond the RFC grammar:
 *  - the year is 0001–9999 (the RFC's four digits; PostgreSQL has no year 0);
 *  - the offset is at most ±15:59 (PostgreSQL refuses larger ones: "time zone displacement out of range");
 *  - at most 9 fractional digits (PostgreSQL keeps microseconds and rounds the rest);
 *  - no leap second (`:60`): PostgreSQL would silently read it as the next minute.
 * Inputs stay strings (codegen maps DateTime to string) and go to PostgreSQL as given, T and Z in upper case.
 */
export const dateTimeScalar = {
  // Only the behaviour: name, description and the @specifiedBy URL come from schema/base.graphql. (A whole
  // GraphQLScalarType would overwrite the SDL's description with its own, see graphql-tools' addResolversToSchema.)
  __serialize(value: unknown): string {
    if (value instanceof Date) return value.toISOString();
    if (typeof value === 'string') return value;
    throw new TypeError(`DateTime cannot represent ${typeof value} values; resolvers must return an ISO 8601 string.`);
  },
  __parseValue(value: unknown): string {
    if (typeof value !== 'string') throw invalid(JSON.stringify(value) ?? String(value));
    return parseDateTime(value);
  },
  __parseLiteral(node: ValueNode): string {
    if (node.kind !== Kind.STRING) throw invalid(print(node));
    return parseDateTime(node.value);
  },
};

const RFC_3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(Z|[+-](\d{2}):(\d{2}))$/;

/** Validates one DateTime input; throws BAD_USER_INPUT naming the format and the value received. */
export function parseDateTime(text: string): string {
  const value = text.toUpperCase();
  const match = RFC_3339.exec(value);
  if (!match) throw invalid(JSON.stringify(text));
  const [year, month, day, hour, minute, second] = match.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const offsetHours = match[9] === undefined ? 0 : Number(match[9]);
  const offsetMinutes = match[10] === undefined ? 0 : Number(match[10]);
  const problem =
    year < 1
      ? 'the year must be 0001 or later'
      : month < 1 || month > 12
        ? 'the month must be 01 to 12'
        : day < 1 || day > daysInMonth(year, month)
          ? `the day must be 01 to ${daysInMonth(year, month)} for that month`
          : hour > 23
            ? 'the hour must be 00 to 23'
            : minute > 59
              ? 'the minute must be 00 to 59'
              : second > 59
                ? 'the second must be 00 to 59 (leap seconds are not accepted)'
                : offsetHours > 15 || offsetMinutes > 59
                  ? 'the time zone offset must be between -15:59 and +15:59'
                  : null;
  if (problem) throw invalid(JSON.stringify(text), problem);
  return value;
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

function invalid(received: string, problem?: string): BadUserInputError {
  const shown = received.length > 60 ? `${received.slice(0, 60)}…` : received;
  return new BadUserInputError(
    `DateTime must be an RFC 3339 date-time with a time zone, e.g. "2024-05-01T12:00:00Z" or "2024-05-01T14:00:00+02:00"` +
      `${problem ? `, and ${problem}` : ''}; received ${shown}.`,
  );
}
