import { LRUCache } from 'lru-cache';
import { createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { UnauthenticatedError, type AuthFailureReason } from '../errors/app-error.js';
import { isValidTenantId, isValidUserId } from '../ids/entity-ids.js';

/** Who a verified token speaks for. Both ids are validated strings: tenant ids are never JavaScript numbers. */
export interface Principal {
  readonly tenantId: string;
  readonly userId: string;
}

export interface TokenVerifierOptions {
  /** HS256 shared secret. */
  secret?: string;
  /** JWKS URL of an identity provider (asymmetric keys). */
  jwksUrl?: string;
  issuer?: string;
  audience?: string;
  /** Name of the claim that carries the tenant id. */
  tenantClaim: string;
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
  if (options.jwksUrl) {
    key = createRemoteJWKSet(new URL(options.jwksUrl));
    algorithms = ASYMMETRIC_ALGORITHMS;
  } else if (options.secret) {
    key = new TextEncoder().encode(options.secret);
    algorithms = ['HS256'];
  } else {
    throw new Error('A token verifier needs JWT_SECRET or JWT_JWKS_URL');
  }

  const now = options.now ?? Date.now;
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
        ...(options.now ? { currentDate: new Date(now()) } : {}),
        ...(options.issuer ? { issuer: options.issuer } : {}),
        ...(options.audience ? { audience: options.audience } : {}),
      }));
    } catch (error) {
      throw new UnauthenticatedError(...describeJoseError(error));
    }
    const principal = {
      tenantId: tenantIdFromClaim(payload[options.tenantClaim], options.tenantClaim),
      userId: userIdFromSubject(payload.sub),
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
 * SECURITY: the tenant id must be a positive integer: a decimal string, or a JSON number that is a safe
 * integer (a larger number was already rounded by JSON parsing and could name a different tenant).
 */
function tenantIdFromClaim(value: unknown, claim: string): string {
  if (typeof value === 'string' && isValidTenantId(value)) return value;
  if (typeof value === 'number' && Number.isSafeInteger(value) && value > 0) return String(value);
  throw new UnauthenticatedError(
    `Token has no valid tenant: claim "${claim}" must be a positive integer (a decimal string, or a number up to 2^53).`,
    'claims',
  );
}

function userIdFromSubject(value: unknown): string {
  if (typeof value === 'string' && isValidUserId(value.toLowerCase())) return value.toLowerCase();
  throw new UnauthenticatedError('Token has no valid subject: "sub" must be a user id.', 'claims');
}
