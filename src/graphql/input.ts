import { BadUserInputError } from '../errors/app-error.js';

/**
 * Trims a required text input and checks its length (in characters, as PostgreSQL counts them).
 * Throws BAD_USER_INPUT naming the field and the limit.
 */
export function requireText(value: string, field: string, maxLength: number): string {
  const text = value.trim();
  if (text.length === 0) throw new BadUserInputError(`\`${field}\` must not be empty.`, field);
  const length = [...text].length;
  if (length > maxLength) {
    throw new BadUserInputError(`\`${field}\` must be at most ${maxLength} characters, received ${length}.`, field);
  }
  if (text.includes('\u0000')) throw new BadUserInputError(`\`${field}\` must not contain NUL characters.`, field);
  if (!text.isWellFormed()) throw new BadUserInputError(`\`${field}\` must be valid Unicode (it contains a lone surrogate).`, field);
  return text;
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/** Trims and validates an email address; throws BAD_USER_INPUT when it does not look like one. */
export function normalizeEmail(value: string): string {
  const email = requireText(value, 'email', 320);
  if (!EMAIL.test(email)) throw new BadUserInputError(`\`email\` must be an email address, received ${JSON.stringify(email.slice(0, 80))}.`, 'email');
  return email;
}
