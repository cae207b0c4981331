/**
 * Which limit refused a document: the `limit` label of tenantgraph_abuse_limit_rejections_total. Its own module
 * so that the metrics (observability) and the plugins that enforce the limits (server) share it without the
 * metrics importing the server.
 */
export const ABUSE_LIMIT_NAMES = ['depth', 'aliases', 'directives', 'tokens', 'cost'] as const;
export type AbuseLimitName = (typeof ABUSE_LIMIT_NAMES)[number];
