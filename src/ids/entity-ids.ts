/**
 * The shapes of the ids every layer checks: the token verifier (auth), global ids (graphql), the CLI's flags,
 * tenant provisioning (admin) and the transaction prologue (tenancy). A neutral module, so none of them imports
 * another layer just to validate an id.
 */

const TENANT_ID = /^[1-9][0-9]{0,18}$/;
const MAX_BIGINT = 9223372036854775807n;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * A tenant id: a positive decimal integer that fits PostgreSQL's bigint, as a string (tenant ids exceed 2^53,
 * so they are never JavaScript numbers). SECURITY: the transaction prologue inlines ids that pass this.
 */
export function isValidTenantId(value: string): boolean {
  return TENANT_ID.test(value) && BigInt(value) <= MAX_BIGINT;
}

/** A user id: a lowercase UUID. SECURITY: the transaction prologue inlines ids that pass this. */
export function isValidUserId(value: string): boolean {
  return UUID.test(value);
}
