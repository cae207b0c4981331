import type { GraphQLFormattedError } from 'graphql';
import { AppError, type ErrorCode } from './app-error.js';

/**
 * The errors of the query shape limits (server/plugins/abuse-limits.ts). Each has a code of its own and names
 * the limit in `extensions.limit` (the setting's key, e.g. `maxDepth`), its value under that key, and what the
 * document had in `extensions.found` when it is known. HTTP 400: nothing ran.
 *
 * GraphQL Armor words its rejections "Syntax Error: Query depth limit of 8 exceeded" and Apollo files them as
 * GRAPHQL_VALIDATION_FAILED; a valid query that is merely too big is neither, so clients could not tell it from
 * a broken document.
 */
export type QueryLimitName = 'depth' | 'aliases' | 'directives' | 'tokens' | 'cost';

interface QueryLimitInfo {
  code: ErrorCode;
  /** The key of the limit in `extensions.limit` (and AbuseLimits). */
  key: string;
  describe: (max: number, found: number | undefined) => string;
}

const QUERY_LIMITS: Record<QueryLimitName, QueryLimitInfo> = {
  depth: {
    code: 'QUERY_TOO_DEEP',
    key: 'maxDepth',
    describe: (max, found) =>
      `The query nests fields ${found} levels deep, over the depth limit of ${max}. Ask for fewer nested levels and fetch the deeper data in a second query.`,
  },
  aliases: {
    code: 'TOO_MANY_ALIASES',
    key: 'maxAliases',
    describe: (max, found) =>
      `The document uses ${found} aliases, over the aliases limit of ${max}. Use fewer aliases, or split the work into several requests.`,
  },
  directives: {
    code: 'TOO_MANY_DIRECTIVES',
    key: 'maxDirectives',
    describe: (max, found) =>
      `The document uses ${found} directives, over the directives limit of ${max}. Use fewer directives, or send a smaller document.`,
  },
  tokens: {
    code: 'TOO_MANY_TOKENS',
    key: 'maxTokens',
    describe: (max) => `The document contains more than ${max} tokens, the token limit. Send a smaller document (fewer fields or operations).`,
  },
  cost: {
    code: 'QUERY_TOO_COSTLY',
    key: 'maxCost',
    describe: (max, found) =>
      `Query cost ${found} exceeds the limit of ${max}. Ask for fewer items (smaller \`first\`), fewer nested connections or fewer text fields.`,
  },
};

export class QueryLimitError extends AppError {
  constructor(
    readonly limit: QueryLimitName,
    max: number,
    found?: number,
  ) {
    const info = QUERY_LIMITS[limit];
    super(info.code, info.describe(max, found), {
      limit: info.key,
      [info.key]: max,
      ...(found === undefined ? {} : { found }),
      http: { status: 400 },
    });
  }
}

/** graphql-js' parse error for `maxTokens` (its wording says "more that"; a later release may fix the typo). */
const TOKEN_LIMIT_ERROR = /Document contains more tha[nt] (\d+) tokens/;

/** The token limit the parser's error names, or undefined for any other parse error. */
export function tokenLimitOf(message: string): number | undefined {
  const match = TOKEN_LIMIT_ERROR.exec(message);
  return match ? Number(match[1]) : undefined;
}

/**
 * The token limit is graphql-js' own (`parseOptions.maxTokens`), so its error is a GRAPHQL_PARSE_FAILED
 * "Syntax Error"; formatError replaces it with TOO_MANY_TOKENS (same 400, nothing else changes).
 */
export function rewriteTokenLimitError(formatted: GraphQLFormattedError): GraphQLFormattedError | undefined {
  if (formatted.extensions?.code !== 'GRAPHQL_PARSE_FAILED') return undefined;
  const max = tokenLimitOf(formatted.message);
  if (max === undefined) return undefined;
  const error = new QueryLimitError('tokens', max);
  const { http: _http, ...extensions } = error.extensions;
  return { message: error.message, ...(formatted.locations ? { locations: formatted.locations } : {}), extensions };
}

/** What GraphQL Armor found, from its message ("…exceeded, found 12."), when it says. */
export function foundInArmorMessage(message: string): number | undefined {
  const match = /found (\d+)/.exec(message);
  return match ? Number(match[1]) : undefined;
}
