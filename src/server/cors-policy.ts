import type { CorsOptions } from 'cors';

/**
 * Request headers every browser client may send cross-origin. Besides our own (the token, Apollo's CSRF
 * preflight headers, the request id), the ones mainstream clients and browser instrumentation add: Apollo
 * Client's `clientAwareness`, W3C Trace Context and Baggage (OpenTelemetry's fetch instrumentation) and
 * Sentry's tracing header. A preflight naming any other header fails in the browser; CORS_ALLOWED_HEADERS adds more.
 */
export const DEFAULT_CORS_ALLOWED_HEADERS = [
  'content-type',
  'authorization',
  'apollo-require-preflight',
  'x-apollo-operation-name',
  'x-request-id',
  'apollographql-client-name',
  'apollographql-client-version',
  'traceparent',
  'tracestate',
  'baggage',
  'sentry-trace',
] as const;

/** Response headers a browser script may read: the request id (for support), Retry-After (429 and 503). */
export const CORS_EXPOSED_HEADERS = ['x-request-id', 'retry-after'] as const;

// Development only: Apollo Studio / Sandbox and local front ends may call the API from the browser.
const DEV_CORS_ORIGINS = ['https://studio.apollographql.com', 'https://sandbox.embed.apollographql.com'];
const LOCALHOST_ORIGIN = /^https?:\/\/(localhost|127\.0\.0\.1|\[::1\])(:\d+)?$/;

export interface CorsPolicyOptions {
  production: boolean;
  /** Exact origins (validated by config/env.ts), or `['*']` for any origin. */
  origins: string[];
  /** Headers allowed besides DEFAULT_CORS_ALLOWED_HEADERS. */
  extraAllowedHeaders?: string[];
}

export interface CorsPolicy {
  options: CorsOptions;
  /** What the boot log prints: the effective policy, in plain values. */
  description: { origins: string[]; allowedHeaders: string[]; exposedHeaders: string[]; credentials: false };
}

/**
 * The effective CORS policy. Production allows no browser origin unless CORS_ORIGINS lists it; development
 * also allows Apollo Studio / Sandbox and localhost on any port. Credentials are never allowed: the API
 * authenticates by the `Authorization` header a page sets itself, never by cookies, which is also why `*`
 * (any origin) is safe to offer.
 */
export function createCorsPolicy(options: CorsPolicyOptions): CorsPolicy {
  const anyOrigin = options.origins.includes('*');
  const allowedHeaders = [...new Set([...DEFAULT_CORS_ALLOWED_HEADERS, ...(options.extraAllowedHeaders ?? []).map((h) => h.toLowerCase())])];
  const origins: (string | RegExp)[] = options.production ? [...options.origins] : [...DEV_CORS_ORIGINS, LOCALHOST_ORIGIN, ...options.origins];
  return {
    options: {
      origin: anyOrigin ? '*' : origins,
      methods: ['GET', 'POST', 'OPTIONS'],
      allowedHeaders,
      exposedHeaders: [...CORS_EXPOSED_HEADERS],
      credentials: false,
      maxAge: 600,
    },
    description: {
      origins: anyOrigin ? ['*'] : origins.map(String),
      allowedHeaders,
      exposedHeaders: [...CORS_EXPOSED_HEADERS],
      credentials: false,
    },
  };
}
