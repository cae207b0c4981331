import { simpleEstimator, type ComplexityEstimator } from 'graphql-query-complexity';
import { DEFAULT_PAGE_SIZE } from '../../graphql/connection.js';
import { TITLE_MAX_LENGTH } from '../../modules/conversations/resolvers.js';
import { BODY_MAX_LENGTH } from '../../modules/messages/resolvers.js';

/**
 * How a document's cost is estimated (graphql-query-complexity estimators, first match wins). The cost stands
 * for what a request makes the server hold and send, so it grows with what makes responses big:
 *   - a list field costs (1 + its selection's cost) × its page size, so nested connections multiply;
 *   - a text field costs one unit per TEXT_CHARS_PER_COST_UNIT characters it may hold (its input cap), so
 *     `messages(first: 100) { nodes { body } }` (up to 1,000,000 characters) costs what its size says;
 *   - a `totalCount` that counts rows (a `count(*)` over the tenant's rows) costs COUNT_COST;
 *   - a text filter that searches (`titleContains`) adds TEXT_SEARCH_COST to its connection: the search reads
 *     every conversation of the tenant (a trigram index cannot serve it under RLS, see README › Limits), for
 *     the page and again for `totalCount`, so the default limit allows at most four searches per request;
 *   - every other field costs 1.
 * Measured against the SDK's operations and the benchmark's documents (test/query-cost.test.ts, bench/test/workload-cost.test.ts): they stay
 * under the default limit of 5,000, while 15 aliases of `messages(first: 100) { nodes { body } }` (~15 MB of
 * response over 10,000-character bodies) cost over 9,000.
 */
export const TEXT_CHARS_PER_COST_UNIT = 2_500;
export const COUNT_COST = 10;
export const TEXT_SEARCH_COST = 1_000;

/** Output text fields and the longest value they can hold: the cap their input is validated against. */
const TEXT_FIELD_MAX_LENGTHS: Readonly<Record<string, number>> = {
  'Message.body': BODY_MAX_LENGTH,
  'Conversation.title': TITLE_MAX_LENGTH,
};

/** `totalCount` fields computed by counting rows; `MessageConnection.totalCount` reads a trigger-kept counter. */
const COUNTED_FIELDS: ReadonlySet<string> = new Set(['ConversationConnection.totalCount', 'UserConnection.totalCount']);

/** Filter arguments whose value makes the query scan text (`ILIKE '%…%'`). */
const TEXT_SEARCH_FILTERS = ['titleContains'] as const;

const fieldWeightEstimator: ComplexityEstimator = ({ type, field, childComplexity }) => {
  const key = `${type.name}.${field.name}`;
  const maxLength = TEXT_FIELD_MAX_LENGTHS[key];
  if (maxLength !== undefined) return Math.ceil(maxLength / TEXT_CHARS_PER_COST_UNIT) + childComplexity;
  if (COUNTED_FIELDS.has(key)) return COUNT_COST;
  return undefined;
};

/** The page size arguments: `first` pages forward, `last` backward; both fetch as many rows. */
const PAGE_SIZE_ARGS = ['first', 'last'] as const;

/**
 * A page costs its size times its items. `first` and `last` are priced alike; a document giving both is refused
 * by the resolver, but priced by the larger here, so naming both can never make a page cheaper.
 */
const pageSizeEstimator: ComplexityEstimator = ({ args, childComplexity, field }) => {
  if (!PAGE_SIZE_ARGS.some((name) => name in args || field.args.some((arg) => arg.name === name))) return undefined;
  const sizes = PAGE_SIZE_ARGS.map((name) => args[name]).filter((size): size is number => typeof size === 'number' && size >= 0);
  const size = sizes.length > 0 ? Math.max(...sizes) : DEFAULT_PAGE_SIZE;
  const filter = args.filter as Record<string, unknown> | null | undefined;
  const searches = TEXT_SEARCH_FILTERS.some((name) => typeof filter?.[name] === 'string' && filter[name] !== '');
  return (1 + childComplexity) * Math.max(size, 1) + (searches ? TEXT_SEARCH_COST : 0);
};

/** The estimators, in order, for getComplexity. */
export const QUERY_COST_ESTIMATORS: ComplexityEstimator[] = [fieldWeightEstimator, pageSizeEstimator, simpleEstimator({ defaultComplexity: 1 })];
