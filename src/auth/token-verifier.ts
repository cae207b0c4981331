import { LRUCache } from 'lru-cache';
import { errors as joseErrors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { AppError, UnauthenticatedError, type AuthFailureReason } from '../errors/app-error.js';
import { isValidExternalSubject, isValidExternalTenantId, isValidTenantId, isValidUserId } from '../ids/entity-ids.js';
import { parseClaimPath, readClaim } from './claim-path.js';
import { providerKeys } from './provider-keys.js';
import type { JoinRequest } from '../tenancy/just-in-time-membership.js';

/**
 * Who a verified token speaks for, in the token's own names, each validated (so the transaction prologue may
 * inline it). The prologue resolves them to ids (RequestTransaction.identity) and refuses unknown ones.
 */
export interface Principal {
  /** The tenant's id (decimal digits; tenant ids are never JavaScript numbers) or its external id (tenants.external_id). */
  readonly tenantId: string;
  /** A user's UUID (lower case) or an external subject (users.external_subject). */
  readonly userId: string;
  /** With just-in-time membership on: how the subject joins the tenant if it is not a member yet. */
  readonly joinAs?: JoinRequest;
}

export interface TokenVerifierOptions {
  /** HS256 shared secret. */
  secret?: string;
  /** JWKS URL of an identity provider (asymmetric keys). */
  jwksUrl?: string;
  /**
   * Checked against `iss` when set. Without `secret` and `jwksUrl`, the provider's keys are found by OpenID
   * Connect discovery from it (`<issuer>/.well-known/openid-configuration` → `jwks_uri`).
   */
  issuer?: string;
  audience?: string;
  /** Where the tenant is in the claims: a claim path (claim-path.ts), e.g. `tenant_id`, `org.id`, `https://example.com/tenant`. */
  tenantClaim: string;
  /** Where the member is: a claim path, default `sub`. */
  subjectClaim?: string;
  /** Seconds of clock difference to the provider tolerated on `exp`, `nbf` and `iat` (default 0). */
  clockToleranceSeconds?: number;
  /**
   * Just-in-time membership (off by default): a verified token of a known tenant whose subject is not a member
   * yet makes it one, with the role at `roleClaim` (a claim path; `admin` or `org:admin` is ADMIN, anything else
   * MEMBER) and the token's `email` and `name`.
   */
  justInTime?: { roleClaim: string };
  /** Asymmetric keys: how long a fetched key set is trusted (provider-keys.ts; default 300000). */
  jwksMaxAgeMs?: number;
  /** Asymmetric keys: at most one refetch per this long for unknown `kid`s (default 30000). */
  jwksCooldownMs?: number;
  /**
   * The clock (milliseconds since the epoch) that `exp`/`nbf` and the remembered tokens' lifetimes are measured
   * against. Production leaves it unset (the system clock); a test passes one it can advance instead of sleeping.
   */
  now?: () => number;
}

export type TokenVerifier = (authorization: string | undefined) => Promise<Principal>;

/** Longer tokens are refused before any parsing: nothing legitimate is this large. */
const MAX_TOKEN_LENGTH = 8192;
const ASYMMETRIC_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];

/**
 * Verifies `Authorization: Bearer <JWT>` with jose and returns the principal, or throws
 * {@link UnauthenticatedError} saying which check failed (never echoing the token).
 *
 * SECURITY: the accepted algorithms are pinned per key type (HS256 for the secret, asymmetric ones for a JWKS),
 * which rules out `alg: none` and algorithm confusion; `exp` is required.
 */
export function createTokenVerifier(options: TokenVerifierOptions): TokenVerifier {
  let key: Uint8Array | JWTVerifyGetKey;
  let algorithms: string[];
  const now = options.now ?? Date.now;
  // Precedence: an explicit JWKS, then the shared secret, then discovery from the issuer.
  if (options.jwksUrl || (!options.secret && options.issuer)) {
    key = providerKeys({
      jwksUrl: options.jwksUrl,
      issuer: options.issuer,
      now,
      ...(options.jwksMaxAgeMs !== undefined ? { maxAgeMs: options.jwksMaxAgeMs } : {}),
      ...(options.jwksCooldownMs !== undefined ? { cooldownMs: options.jwksCooldownMs } : {}),
    });
    algorithms = ASYMMETRIC_ALGORITHMS;
  } else if (options.secret) {
    key = new TextEncoder().encode(options.secret);
    algorithms = ['HS256'];
  } else {
    throw new Error('A token verifier needs JWT_SECRET, JWT_JWKS_URL or JWT_ISSUER (OpenID Connect discovery)');
  }
  const tenantPath = parseClaimPath(options.tenantClaim);
  const subjectClaim = options.subjectClaim ?? 'sub';
  const subjectPath = parseClaimPath(subjectClaim);
  const rolePath = options.justInTime ? parseClaimPath(options.justInTime.roleClaim) : undefined;
  const verified = new VerifiedTokens(options.now);

  return async (authorization) => {
    const token = bearerToken(authorization);
    const known = verified.get(token);
    if (known) return known;
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, key as Uint8Array, {
        algorithms,
        requiredClaims: ['exp'],
        clockTolerance: options.clockToleranceSeconds ?? 0,
        ...(options.now ? { currentDate: new Date(now()) } : {}),
        ...(options.issuer ? { issuer: options.issuer } : {}),
        ...(options.audience ? { audience: options.audience } : {}),
      }));
    } catch (error) {
      // The provider's keys could not be had (discovery, JWKS fetch): 503, not the token's fault.
      if (error instanceof AppError) throw error;
      throw new UnauthenticatedError(...describeJoseError(error));
    }
    const principal: Principal = {
      tenantId: tenantFromClaim(readClaim(payload, tenantPath), options.tenantClaim),
      userId: memberFromClaim(readClaim(payload, subjectPath), subjectClaim),
      ...(rolePath ? { joinAs: joinRequestOf(payload, rolePath) } : {}),
    };
    verified.remember(token, principal, payload.exp! * 1000 - now());
    return principal;
  };
}

/**
 * Tokens this process verified recently. A client sends the same token with every request, and verifying its
 * signature again costs more than the rest of a small request's authentication. The key is the whole token
 * (header, claims and signature), so a hit can only ever return the principal of that exact token; an entry
 * lives until the token expires but at most TOKEN_CACHE_TTL_MS (bounding how long a rotated-out JWKS key keeps
 * working for tokens it already signed). Tenant membership is still checked by every request's transaction.
 */
const TOKEN_CACHE_TTL_MS = 60_000;

class VerifiedTokens {
  readonly #cache: LRUCache<string, Principal>;

  /** `now`: an injected clock (tests) that the entries' lifetimes follow too; unset, the LRU's own clock. */
  constructor(now?: () => number) {
    this.#cache = new LRUCache<string, Principal>({
      max: 10_000,
      ttlAutopurge: false,
      // ttlResolution 0: the LRU reads an injected clock on every get, so a test's jump is seen at once.
      ...(now ? { perf: { now }, ttlResolution: 0 } : {}),
    });
  }

  get(token: string): Principal | undefined {
    return this.#cache.get(token);
  }

  remember(token: string, principal: Principal, untilExpiryMs: number): void {
    const ttl = Math.min(TOKEN_CACHE_TTL_MS, untilExpiryMs);
    if (ttl > 0) this.#cache.set(token, principal, { ttl });
  }
}

/** The refusal of a request that carries no token, wherever it is noticed (verifier, auth plugin, context). */
export function missingTokenError(): UnauthenticatedError {
  return new UnauthenticatedError('Missing Authorization header; send "Authorization: Bearer <token>".', 'missing');
}

function bearerToken(authorization: string | undefined): string {
  if (!authorization) {
    throw missingTokenError();
  }
  const match = /^Bearer ([A-Za-z0-9_\-.]+)$/i.exec(authorization.trim());
  if (!match) {
    throw new UnauthenticatedError('Malformed Authorization header; expected "Bearer <JWT>".', 'malformed');
  }
  if (match[1]!.length > MAX_TOKEN_LENGTH) {
    throw new UnauthenticatedError(`Token is longer than ${MAX_TOKEN_LENGTH} characters.`, 'malformed');
  }
  return match[1]!;
}

/** The client's message and the metric's reason for a jose verification error. */
function describeJoseError(error: unknown): [message: string, reason: AuthFailureReason] {
  if (error instanceof joseErrors.JWTExpired) return ['Token has expired.', 'expired'];
  if (error instanceof joseErrors.JWTClaimValidationFailed) {
    if (error.claim === 'nbf') return ['Token is not valid yet (nbf is in the future).', 'claims'];
    if (error.claim === 'exp') return ['Token has no expiry (exp is required).', 'claims'];
    return [`Token claim "${error.claim}" is invalid.`, 'claims'];
  }
  if (error instanceof joseErrors.JOSEAlgNotAllowed) return ['Token is signed with an algorithm this server does not accept.', 'signature'];
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) return ['Token signature is invalid.', 'signature'];
  if (error instanceof joseErrors.JWKSNoMatchingKey) return ['Token is signed with an unknown key (kid).', 'signature'];
  if (error instanceof joseErrors.JWSInvalid || error instanceof joseErrors.JWTInvalid) return ['Token is malformed.', 'malformed'];
  return ['Token could not be verified.', 'other'];
}

/**
 * SECURITY: the tenant is a positive integer (a decimal string, or a JSON number that is a safe integer: a larger
 * number was already rounded by JSON parsing and could name a different tenant), or an external id: a string of
 * printable ASCII without quote or backslash that is not all digits (entity-ids.ts).
 */
function tenantFromClaim(value: unknown, claim: string): string {
  if (typeof value === 'string' && (isValidTenantId(value) || isValidExternalTenantId(value))) return value;
  if (typeof value === 'number' && Number.isSafeInteger(value) && value > 0) return String(value);
  throw new UnauthenticatedError(
    Array.isArray(value)
      ? `Token has no valid tenant: claim "${claim}" is a list; it must name exactly one tenant.`
      : `Token has no valid tenant: claim "${claim}" must be a tenant id (a positive integer) or an external id (printable ASCII, no spaces or quotes, at most 255 characters).`,
    'claims',
  );
}

/** A UUID is lower-cased (it may be a user id); any other subject is kept exactly as the provider wrote it. */
function memberFromClaim(value: unknown, claim: string): string {
  if (typeof value === 'string' && isValidUserId(value.toLowerCase())) return value.toLowerCase();
  if (typeof value === 'string' && isValidExternalSubject(value)) return value;
  throw new UnauthenticatedError(
    `Token has no valid subject: "${claim}" must be a user id or an external subject (printable ASCII, no spaces or quotes, at most 255 characters).`,
    'claims',
  );
}

/**
 * The role, e-mail and name a just-in-time member joins with. SECURITY: only an explicit `admin` (Clerk:
 * `org:admin`, any case) grants ADMIN; a missing, unknown or list-valued role is MEMBER, the least privilege.
 */
function joinRequestOf(payload: JWTPayload, rolePath: readonly string[]): JoinRequest {
  const role = readClaim(payload, rolePath);
  const email = typeof payload.email === 'string' && /^[^\s@]+@[^\s@]+$/.test(payload.email) && payload.email.length <= 320 ? payload.email : null;
  const name = typeof payload.name === 'string' && payload.name.trim().length > 0 ? payload.name.trim().slice(0, 200) : null;
  return {
    role: typeof role === 'string' && /^(org:)?admin$/i.test(role) ? 'ADMIN' : 'MEMBER',
    email,
    displayName: name,
  };
}
