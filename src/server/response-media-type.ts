import type { IncomingMessage } from 'node:http';
import Negotiator from 'negotiator';

/** The two media types of a GraphQL-over-HTTP response, as Apollo Server writes them. */
export const APPLICATION_JSON = 'application/json; charset=utf-8';
export const GRAPHQL_RESPONSE_JSON = 'application/graphql-response+json; charset=utf-8';

/**
 * The content type of a GraphQL error response the HTTP layer writes itself (413, 429, a body that is not JSON,
 * draining): `application/graphql-response+json` when the client's Accept header prefers it, as Apollo Server
 * decides for its own responses (the same negotiator, the same candidates in the same order). Apollo Client
 * reads `extensions.code` of a non-2xx response only in that media type; as `application/json` it reports
 * "Received status code 413". Without a match (or an Accept header) the answer is `application/json`: these
 * responses are refusals, and a 406 in their place would hide why.
 */
export function graphqlResponseContentType(req: Pick<IncomingMessage, 'headers'>): string {
  const accept = req.headers.accept;
  if (!accept) return APPLICATION_JSON;
  return new Negotiator({ headers: { accept } }).mediaType([APPLICATION_JSON, GRAPHQL_RESPONSE_JSON]) ?? APPLICATION_JSON;
}
