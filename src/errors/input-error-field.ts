import type { GraphQLFormattedError } from 'graphql';

/**
 * graphql-js' variable coercion errors (Apollo: BAD_USER_INPUT, HTTP 400) name the variable, and the input
 * field inside it, only in their message: `Variable "$input" got invalid value "x" at "input.since"; …`,
 * `Variable "$first" of required type "Int!" was not provided.` This reads that name into `extensions.field`,
 * like our own input errors carry it: the innermost input field, or the variable itself.
 */
const VARIABLE_ERROR =
  /^Variable "\$([_A-Za-z][_0-9A-Za-z]*)" (?:got invalid value .*? at "([^"]+)";|got invalid value|of (?:required|non-null) type)/s;

export function fieldOfVariableError(message: string): string | undefined {
  const match = VARIABLE_ERROR.exec(message);
  if (!match) return undefined;
  const path = match[2]?.split('.').filter((segment) => !/^\d+$/.test(segment));
  return path?.at(-1) ?? match[1];
}

/** `formatted` with `extensions.field` added when it is an input error that has none and names a variable. */
export function withInputField(formatted: GraphQLFormattedError): GraphQLFormattedError {
  if (formatted.extensions?.code !== 'BAD_USER_INPUT' || formatted.extensions.field !== undefined) return formatted;
  const field = fieldOfVariableError(formatted.message);
  return field ? { ...formatted, extensions: { ...formatted.extensions, field } } : formatted;
}
