// No imports on purpose: this is data. The SDK's src/sdk/error-codes.ts and the README's error table are
// generated from it (scripts/generated-files.ts, checked by test/codegen.test.ts), so a code added here and
// nowhere else makes that test fail until `npm run codegen` is run.

/** Who puts a code in a response: our own code, Apollo Server (graphql-js' errors included), or a query limit. */
export type ErrorCodeSource = 'tenantgraph' | 'apollo' | 'limit';

export interface ErrorCodeInfo {
  /**
   * HTTP statuses of a response that carries the code. 200 means a field error: the other fields' data is
   * there. A code with one status other than 200 that we raise ourselves gives every response carrying it that
   * status (see {@link forcedHttpStatus}).
   */
  readonly httpStatus: readonly number[];
  readonly source: ErrorCodeSource;
  /** One line: what happened. */
  readonly meaning: string;
  /** One line: what a client should do about it. */
  readonly clientAction: string;
}

/**
 * Every value of `extensions.code` a client can receive, with its HTTP status. The one list: `ErrorCode` (the
 * codes our errors may use), the HTTP status the error plugin gives a response, the SDK's `ErrorCode` union and
 * the README table all come from it.
 */
export const ERROR_CODES = {
  UNAUTHENTICATED: {
    httpStatus: [401],
    source: 'tenantgraph',
    meaning: 'No token, or a token that is malformed, expired, badly signed or of a user who is not a member of its tenant.',
    clientAction: 'Get a fresh token and send it as `Authorization: Bearer <token>`; do not retry with the same token.',
  },
  TENANT_SUSPENDED: {
    httpStatus: [403],
    source: 'tenantgraph',
    meaning: "The token's tenant is suspended (`cli tenant suspend`, e.g. an unpaid account); its data is kept, unchanged.",
    clientAction: 'Show that the account is suspended and who to contact; retrying does not help until the tenant is resumed.',
  },
  FORBIDDEN: {
    httpStatus: [200],
    source: 'tenantgraph',
    meaning: 'The user may not do this (e.g. a member calling an admin-only mutation).',
    clientAction: 'Hide or disable the action for this role; retrying does not help.',
  },
  NOT_FOUND: {
    httpStatus: [200, 404],
    source: 'tenantgraph',
    meaning: "No such object in your tenant (another tenant's id looks the same), or 404: a path other than /graphql.",
    clientAction: 'Treat the object as deleted (refresh the list); for 404 send requests to /graphql.',
  },
  BAD_USER_INPUT: {
    httpStatus: [200, 400],
    source: 'apollo',
    meaning: 'An argument or variable is invalid; `extensions.field` names it (400 when a variable has the wrong type).',
    clientAction: 'Show the message next to the input named by `extensions.field` and let the user correct it.',
  },
  BAD_REQUEST: {
    httpStatus: [400, 405, 406],
    source: 'apollo',
    meaning:
      'The HTTP request is malformed: not JSON, JSON nested too deep, no query, a CSRF-unsafe request, a mutation over GET (405), an Accept header allowing no JSON (406).',
    clientAction: 'Fix the client: POST JSON with `content-type: application/json` (urql: `preferGetMethod: false`).',
  },
  GRAPHQL_PARSE_FAILED: {
    httpStatus: [400],
    source: 'apollo',
    meaning: 'The document is not valid GraphQL syntax.',
    clientAction: 'Fix the document; generated documents (codegen) never get this.',
  },
  GRAPHQL_VALIDATION_FAILED: {
    httpStatus: [400],
    source: 'apollo',
    meaning: 'The document does not match the schema (unknown field, wrong argument), or introspection is off.',
    clientAction: 'Regenerate your types from the current schema (`schema.graphql`) and fix the document.',
  },
  OPERATION_RESOLUTION_FAILURE: {
    httpStatus: [400],
    source: 'apollo',
    meaning: 'The document has several operations and `operationName` names none of them (or is missing).',
    clientAction: 'Send the `operationName` of one operation in the document.',
  },
  PERSISTED_QUERY_NOT_SUPPORTED: {
    httpStatus: [200],
    source: 'apollo',
    meaning: 'Automatic persisted queries are off: a request carried `extensions.persistedQuery`.',
    clientAction: 'Send the full document (Apollo Client: do not use the persisted-queries link).',
  },
  QUERY_TOO_DEEP: {
    httpStatus: [400],
    source: 'limit',
    meaning:
      'The query nests fields deeper than `GRAPHQL_MAX_DEPTH`; `extensions.limit` is `maxDepth`, `extensions.maxDepth` its value, `found` the depth.',
    clientAction: 'Ask for fewer nested levels and fetch the deeper data in a second query.',
  },
  TOO_MANY_ALIASES: {
    httpStatus: [400],
    source: 'limit',
    meaning: 'The document uses more aliases than `GRAPHQL_MAX_ALIASES`; `extensions.maxAliases` is the limit, `found` the count.',
    clientAction: 'Use fewer aliases; split the work into several requests.',
  },
  TOO_MANY_DIRECTIVES: {
    httpStatus: [400],
    source: 'limit',
    meaning: 'The document uses more directives than `GRAPHQL_MAX_DIRECTIVES`; `extensions.maxDirectives` is the limit, `found` the count.',
    clientAction: 'Use fewer directives (`@include`/`@skip`); send a smaller document.',
  },
  TOO_MANY_TOKENS: {
    httpStatus: [400],
    source: 'limit',
    meaning: 'The document has more tokens than `GRAPHQL_MAX_TOKENS`; `extensions.maxTokens` is the limit.',
    clientAction: 'Send a smaller document (fewer fields or operations).',
  },
  QUERY_TOO_COSTLY: {
    httpStatus: [400],
    source: 'limit',
    meaning: 'The estimated cost exceeds `GRAPHQL_MAX_COST` (page sizes multiply); `extensions.maxCost` is the limit, `found` the cost.',
    clientAction: 'Ask for smaller pages (a lower `first`), fewer nested connections or fewer text fields.',
  },
  PERSISTED_QUERY_NOT_FOUND: {
    httpStatus: [400],
    source: 'tenantgraph',
    meaning: 'With `GRAPHQL_TRUSTED_DOCUMENTS`, the request named a document id the manifest does not hold.',
    clientAction: "Regenerate the client from the same operations as the server's manifest; do not retry the same id.",
  },
  OPERATION_NOT_TRUSTED: {
    httpStatus: [400],
    source: 'tenantgraph',
    meaning: 'With `GRAPHQL_TRUSTED_DOCUMENTS`, the query text is not one of the trusted operations (or differs from its id).',
    clientAction: 'Send the `documentId` of a trusted operation (`createClient({ trustedDocuments: true })`).',
  },
  PAYLOAD_TOO_LARGE: {
    httpStatus: [413],
    source: 'limit',
    meaning: 'The request body exceeds `HTTP_BODY_LIMIT_BYTES`; `extensions.limitBytes` names the limit.',
    clientAction: 'Send less in one request (shorter texts, fewer variables).',
  },
  RESPONSE_TOO_LARGE: {
    httpStatus: [400],
    source: 'limit',
    meaning: 'The response would exceed `GRAPHQL_MAX_RESPONSE_BYTES`; it was not sent and a mutation was rolled back.',
    clientAction: 'Ask for smaller pages or fewer fields and page through the rest; a mutation may be retried as it saved nothing.',
  },
  TOO_MANY_CONCURRENT_REQUESTS: {
    httpStatus: [429],
    source: 'limit',
    meaning: 'Your tenant (or your address, without a token) already has `HTTP_MAX_IN_FLIGHT_PER_TENANT` requests in flight.',
    clientAction: 'Wait for `Retry-After` seconds and send fewer requests at once.',
  },
  TOO_MANY_PENDING_SOCKETS: {
    httpStatus: [429],
    source: 'limit',
    meaning:
      'A WebSocket upgrade was refused: your address (`REALTIME_MAX_PENDING_SOCKETS_PER_ADDRESS`) or the server (`REALTIME_MAX_PENDING_SOCKETS`) already has that many sockets that have not sent `connection_init`.',
    clientAction: 'Send `connection_init` on the sockets you open, share one socket per client, and reconnect after `Retry-After` seconds.',
  },
  RATE_LIMITED: {
    httpStatus: [429],
    source: 'limit',
    meaning: 'Your tenant sent more requests per second than its plan allows; `extensions.plan` and `requestsPerSecond` name the limit.',
    clientAction: 'Wait for `Retry-After` seconds, then retry with backoff.',
  },
  SERVER_BUSY: {
    httpStatus: [503],
    source: 'limit',
    meaning: 'No database connection became free for your tenant in time (its fair share of the pool stayed full).',
    clientAction: 'Retry after `Retry-After` seconds with backoff; nothing was done.',
  },
  REQUEST_TIMEOUT: {
    httpStatus: [503],
    source: 'limit',
    meaning: "The request ran longer than the plan's `request_timeout_ms`; it was cancelled and rolled back.",
    clientAction: 'Ask for less (smaller pages, fewer fields) or retry; nothing was saved.',
  },
  SERVICE_UNAVAILABLE: {
    httpStatus: [503],
    source: 'tenantgraph',
    meaning: 'The database is unavailable, a statement timed out, or the server is shutting down.',
    clientAction: 'Retry after `Retry-After` seconds with backoff (another replica may answer).',
  },
  CLIENT_CLOSED_REQUEST: {
    httpStatus: [499],
    source: 'tenantgraph',
    meaning: 'The client closed the connection before the request was authenticated; nothing ran.',
    clientAction: 'Nothing: no client is left to read it (it appears in logs and metrics only).',
  },
  CURSOR_EXPIRED: {
    httpStatus: [200],
    source: 'tenantgraph',
    meaning:
      'A subscription (WebSocket) was asked to resume `after` a cursor whose events are past retention (REALTIME_RETENTION_*), or a cursor ahead of the stream (e.g. after a database restore).',
    clientAction: 'Refetch what the subscription covers with a query, then subscribe again without `after`.',
  },
  TOO_MANY_SUBSCRIPTIONS: {
    httpStatus: [200],
    source: 'limit',
    meaning: 'A subscription would exceed the subscriptions allowed per WebSocket or per tenant on this server (`extensions.limit` names which).',
    clientAction: 'Complete subscriptions you no longer need, or share one subscription between views; retry later.',
  },
  INTERNAL_SERVER_ERROR: {
    httpStatus: [200, 500],
    source: 'tenantgraph',
    meaning: 'An unexpected error; it was logged with the request id (`x-request-id` header).',
    clientAction: 'Report it with the `x-request-id`; a retry may work, a mutation may be retried only if nothing was saved.',
  },
} as const satisfies Record<string, ErrorCodeInfo>;

/** Every value of `extensions.code` a client can receive. */
export type KnownErrorCode = keyof typeof ERROR_CODES;

/** The codes our own errors (AppError) may carry: Apollo's parse/validation/resolution codes are Apollo's alone. */
export type ErrorCode = Exclude<
  KnownErrorCode,
  'GRAPHQL_PARSE_FAILED' | 'GRAPHQL_VALIDATION_FAILED' | 'OPERATION_RESOLUTION_FAILURE' | 'PERSISTED_QUERY_NOT_SUPPORTED'
>;

export const KNOWN_ERROR_CODES = Object.keys(ERROR_CODES) as KnownErrorCode[];

/**
 * The HTTP status every response carrying `code` gets, or undefined when it has none of its own (a field error,
 * or an Apollo code whose status Apollo sets): the one status of a code that is not a field error.
 */
export function forcedHttpStatus(code: unknown): number | undefined {
  if (typeof code !== 'string' || !Object.hasOwn(ERROR_CODES, code)) return undefined;
  const info: ErrorCodeInfo = ERROR_CODES[code as KnownErrorCode];
  if (info.source === 'apollo' || info.httpStatus.length !== 1 || info.httpStatus[0] === 200) return undefined;
  return info.httpStatus[0];
}
