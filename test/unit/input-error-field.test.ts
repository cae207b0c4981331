import { describe, expect, it } from 'vitest';
import { fieldOfVariableError, withInputField } from '../../src/errors/input-error-field.js';

describe('fieldOfVariableError', () => {
  it('names the innermost input field of a variable coercion error, or the variable', () => {
    expect(fieldOfVariableError('Variable "$input" got invalid value "x" at "input.filter.since"; DateTime must be …')).toBe('since');
    expect(fieldOfVariableError('Variable "$ids" got invalid value 1 at "ids[0]"; ID cannot represent …')).toBe('ids[0]');
    expect(fieldOfVariableError('Variable "$since" got invalid value "2024"; DateTime must be …')).toBe('since');
    expect(fieldOfVariableError('Variable "$first" of required type "Int!" was not provided.')).toBe('first');
    expect(fieldOfVariableError('Variable "$first" of non-null type "Int!" must not be null.')).toBe('first');
    expect(fieldOfVariableError('`email` must be an email address, received "x".')).toBeUndefined();
  });
});

describe('withInputField', () => {
  it('adds field only to BAD_USER_INPUT errors that have none', () => {
    const message = 'Variable "$first" of required type "Int!" was not provided.';
    expect(withInputField({ message, extensions: { code: 'BAD_USER_INPUT' } }).extensions).toEqual({ code: 'BAD_USER_INPUT', field: 'first' });
    expect(withInputField({ message, extensions: { code: 'BAD_USER_INPUT', field: 'own' } }).extensions?.field).toBe('own');
    expect(withInputField({ message, extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } }).extensions?.field).toBeUndefined();
  });
});
