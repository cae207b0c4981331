/**
 * Where in a token's claims a value lives (JWT_TENANT_CLAIM, JWT_SUBJECT_CLAIM, JWT_ROLE_CLAIM), parsed once at boot.
 *
 * Syntax, in order of precedence:
 *   - a path that starts with `http://` or `https://` is ONE claim name, dots and slashes included:
 *     `https://example.com/tenant` (Auth0 and others namespace custom claims with a URL);
 *   - otherwise keys separated by `.`: `tenant_id`, `org.id` (nested objects), `custom:tenant_id` (Cognito);
 *   - a key that contains a dot (or anything else) can always be written as a JSON string in brackets:
 *     `["https://example.com/claims"].org.id`, `o["id"]`.
 * A value that is an array of exactly one string counts as that string (Keycloak's `organization: ["acme"]`);
 * any other array names several values, or none, and is refused by the caller.
 */
export type ClaimPath = readonly string[];

export function parseClaimPath(text: string): ClaimPath {
  if (/^https?:\/\//.test(text)) return [text];
  const keys: string[] = [];
  let rest = text;
  while (rest.length > 0) {
    if (rest.startsWith('[')) {
      const end = rest.indexOf('"]');
      let key: unknown;
      try {
        key = end > 0 ? JSON.parse(rest.slice(1, end + 1)) : undefined;
      } catch {
        key = undefined;
      }
      if (typeof key !== 'string' || key === '')
        throw new Error(`claim path ${JSON.stringify(text)}: expected ["key"] (a JSON string in brackets) at ${JSON.stringify(rest)}`);
      keys.push(key);
      rest = rest.slice(end + 2);
    } else {
      const match = /^[^.[\]]+/.exec(rest);
      if (!match) throw new Error(`claim path ${JSON.stringify(text)}: expected a key at ${JSON.stringify(rest)} (keys are separated by ".")`);
      keys.push(match[0]);
      rest = rest.slice(match[0].length);
    }
    if (rest.startsWith('.')) {
      rest = rest.slice(1);
      if (rest === '') throw new Error(`claim path ${JSON.stringify(text)} ends with "."`);
    } else if (rest !== '' && !rest.startsWith('[')) {
      throw new Error(`claim path ${JSON.stringify(text)}: expected "." or "[" at ${JSON.stringify(rest)}`);
    }
  }
  if (keys.length === 0) throw new Error('claim path is empty');
  return keys;
}

/** The value at `path` in `claims`, or undefined; own properties only (never `__proto__` or `constructor`). */
export function readClaim(claims: Record<string, unknown>, path: ClaimPath): unknown {
  let value: unknown = claims;
  for (const key of path) {
    if (typeof value !== 'object' || value === null || Array.isArray(value) || !Object.hasOwn(value, key)) return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return Array.isArray(value) && value.length === 1 && typeof value[0] === 'string' ? value[0] : value;
}
