import { createHmac } from 'node:crypto';
import { TEST_JWT_SECRET } from './server.js';

/**
 * Builds a JWT from raw JSON text, signed with HS256 (or not signed at all for `alg: none`).
 *
 * jose's SignJWT serialises JavaScript values, so it cannot produce a claim such as `9007199254740993` (a
 * number above 2^53 that JSON.parse would round) or a deliberately broken header; raw text can.
 */
export function forgeToken(header: string, payload: string, secret: string | null = TEST_JWT_SECRET): string {
  const signingInput = `${base64url(header)}.${base64url(payload)}`;
  if (secret === null) return `${signingInput}.`;
  const signature = createHmac('sha256', secret).update(signingInput).digest('base64url');
  return `${signingInput}.${signature}`;
}

/** A payload that passes every check except the ones a test overrides: fields are raw JSON values. */
export function payloadJson(fields: Record<string, string | undefined>): string {
  const now = Math.floor(Date.now() / 1000);
  const merged: Record<string, string | undefined> = { iat: String(now), exp: String(now + 3600), ...fields };
  const entries = Object.entries(merged).filter(([, value]) => value !== undefined);
  return `{${entries.map(([key, value]) => `${JSON.stringify(key)}:${value}`).join(',')}}`;
}

export const HS256_HEADER = '{"alg":"HS256","typ":"JWT"}';

function base64url(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64url');
}
