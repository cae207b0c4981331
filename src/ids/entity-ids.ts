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

/**
 * What an identity provider's names may look like here: printable ASCII without space, quote or backslash, 1 to
 * 255 characters. That covers Auth0 (`auth0|65f…`, `org_2abc…`), Clerk (`user_2abc…`), Keycloak and Cognito
 * (UUIDs), Entra ID (base64url object ids) and e-mail addresses. SECURITY: the transaction prologue inlines values
 * that pass this (no quote can close the literal, no backslash can escape); migrations/0012 checks the same
 * pattern in the database.
 */
const EXTERNAL_NAME = /^[!-&(-[\]-~]{1,255}$/;

/** An external subject (users.external_subject, a token's `sub`), see {@link EXTERNAL_NAME}. */
export function isValidExternalSubject(value: string): boolean {
  return EXTERNAL_NAME.test(value);
}

/**
 * An external tenant id (tenants.external_id). Never all digits: a token's tenant value made of digits always
 * means the tenant's id, so the two kinds of name cannot collide.
 */
export function isValidExternalTenantId(value: string): boolean {
  return EXTERNAL_NAME.test(value) && !/^[0-9]+$/.test(value);
}
