import { createRemoteJWKSet, type JWTVerifyGetKey } from 'jose';
import { ServiceUnavailableError } from '../errors/app-error.js';

export interface ProviderKeysOptions {
  /** The provider's JWKS; unset, it is discovered from `issuer`. */
  jwksUrl?: string | undefined;
  /** The issuer (`iss`), whose `/.well-known/openid-configuration` names the JWKS when `jwksUrl` is unset. */
  issuer?: string | undefined;
  /**
   * The key set is fetched again at the first verification after this long (default 300000): the bound on how
   * long a key the provider removed keeps verifying new tokens.
   */
  maxAgeMs?: number;
  /**
   * A token with an unknown `kid` refetches the key set at most this often (default 30000): a rotated-in key is
   * accepted at once unless the set was fetched less than this long ago, and forged kids cannot make this server
   * hammer the provider.
   */
  cooldownMs?: number;
  /** Milliseconds allowed for the discovery document and the key set (default 5000). */
  timeoutMs?: number;
  /** The clock the key set's age is measured on (tests advance it instead of sleeping). */
  now?: () => number;
}

/**
 * The provider's public keys as jose's key resolver: the JWKS at `jwksUrl`, or the `jwks_uri` of the issuer's
 * OpenID Connect discovery document (OpenID Connect Discovery 1.0 §4), fetched on the first verification and
 * again after a failed one. jose's remote key set does the rest: it picks the key by `kid`, refetches on an
 * unknown `kid` (rotation) within `cooldownMs`, and shares one fetch between concurrent verifications.
 *
 * SECURITY: the discovery document must name exactly the configured issuer (§4.3: otherwise a document could
 * hand out another issuer's keys), and its `jwks_uri` must be https unless both the issuer and the jwks_uri are http on
 * a loopback address (a local test provider). Refusals and fetch failures are the server's problem, not the token's: they
 * surface as SERVICE_UNAVAILABLE (503) and the next request tries again.
 */
export function providerKeys(options: ProviderKeysOptions): JWTVerifyGetKey {
  const maxAgeMs = options.maxAgeMs ?? 300_000;
  const timeoutMs = options.timeoutMs ?? 5000;
  const now = options.now ?? Date.now;
  const jwksOptions = { cooldownDuration: options.cooldownMs ?? 30_000, timeoutDuration: timeoutMs, cacheMaxAge: Number.POSITIVE_INFINITY };
  let keys: Promise<ReturnType<typeof createRemoteJWKSet>> | undefined;
  let fetchedAt = Number.NEGATIVE_INFINITY;

  const resolveKeys = () => {
    keys ??= (async () => {
      const url = options.jwksUrl ? new URL(options.jwksUrl) : await discoverJwksUri(options.issuer!, timeoutMs);
      return createRemoteJWKSet(url, jwksOptions);
    })();
    keys.catch(() => (keys = undefined));
    return keys;
  };

  return async (header, token) => {
    const jwks = await resolveKeys().catch((error: unknown) => {
      throw new ServiceUnavailableError(
        `The identity provider's keys are unavailable (${error instanceof Error ? error.message : String(error)}); try again shortly.`,
      );
    });
    // jose's own cache age runs on the system clock and never expires here (cacheMaxAge Infinity): this one
    // follows `now`, so the bound is testable without sleeping.
    if (now() - fetchedAt >= maxAgeMs) {
      // SECURITY: fail closed: if the provider cannot say which keys are current, old ones are not trusted on.
      await jwks.reload().catch((error: unknown) => {
        throw new ServiceUnavailableError(
          `The identity provider's key set could not be fetched (${error instanceof Error ? error.message : String(error)}); try again shortly.`,
        );
      });
      fetchedAt = now();
    }
    return jwks(header, token);
  };
}

/** Fetches `<issuer>/.well-known/openid-configuration` and returns its checked `jwks_uri`. */
export async function discoverJwksUri(issuer: string, timeoutMs: number): Promise<URL> {
  const documentUrl = `${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
  const response = await fetch(documentUrl, { signal: AbortSignal.timeout(timeoutMs), headers: { accept: 'application/json' }, redirect: 'error' });
  if (!response.ok) throw new Error(`OpenID Connect discovery at ${documentUrl} answered HTTP ${response.status}`);
  const document = (await response.json()) as { issuer?: unknown; jwks_uri?: unknown };
  if (document.issuer !== issuer) {
    throw new Error(
      `OpenID Connect discovery at ${documentUrl} names the issuer ${JSON.stringify(document.issuer)}, expected exactly ${JSON.stringify(issuer)} (JWT_ISSUER)`,
    );
  }
  if (typeof document.jwks_uri !== 'string') throw new Error(`OpenID Connect discovery at ${documentUrl} has no jwks_uri`);
  const jwksUri = new URL(document.jwks_uri);
  if (jwksUri.protocol !== 'https:' && !(isLoopbackHttp(issuer) && isLoopbackHttp(jwksUri.href))) {
    throw new Error(`jwks_uri ${jwksUri.href} is not https; only a loopback http issuer (a local test provider) may name a loopback http one`);
  }
  return jwksUri;
}

function isLoopbackHttp(url: string): boolean {
  const { protocol, hostname } = new URL(url);
  return protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(hostname);
}
