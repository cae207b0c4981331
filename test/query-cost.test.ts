import {
  buildSchema,
  getNamedType,
  isInputObjectType,
  isNonNullType,
  parse,
  typeFromAST,
  type DocumentNode,
  type GraphQLInputType,
  type OperationDefinitionNode,
} from 'graphql';
import { getComplexity } from 'graphql-query-complexity';
import { describe, expect, it } from 'vitest';
import * as sdk from '../src/__generated__/sdk/graphql.js';
import { DEFAULT_QUERY_LIMITS } from '../src/config/env.js';
import { loadTypeDefs } from '../src/graphql/schema-files.js';
import { QUERY_COST_ESTIMATORS } from '../src/server/plugins/query-cost.js';

const schema = buildSchema(loadTypeDefs().join('\n'));
const cost = (document: DocumentNode, variables: Record<string, unknown> = {}) =>
  getComplexity({ schema, query: document, variables, estimators: QUERY_COST_ESTIMATORS });

/** A value for every required variable (ids and text are placeholders: cost does not depend on them). */
function requiredVariables(document: DocumentNode): Record<string, unknown> {
  const operation = document.definitions.find((d): d is OperationDefinitionNode => d.kind === 'OperationDefinition')!;
  const fill = (type: GraphQLInputType): unknown => {
    const named = getNamedType(type);
    if (isInputObjectType(named)) {
      return Object.fromEntries(
        Object.values(named.getFields())
          .filter((field) => isNonNullType(field.type))
          .map((field) => [field.name, fill(field.type)]),
      );
    }
    return { Int: 1, Boolean: true }[named.name] ?? 'x';
  };
  return Object.fromEntries(
    (operation.variableDefinitions ?? [])
      .filter((definition) => definition.type.kind === 'NonNullType')
      .map((definition) => [definition.variable.name.value, fill(typeFromAST(schema, definition.type as never) as GraphQLInputType)]),
  );
}

const sdkDocuments = Object.entries(sdk).filter(([name]) => name.endsWith('Document')) as [string, DocumentNode][];

describe('query cost', () => {
  it.each(sdkDocuments)('keeps the SDK operation %s under the default limit with default page sizes', (_name, document) => {
    expect(cost(document, requiredVariables(document))).toBeLessThan(DEFAULT_QUERY_LIMITS.maxCost);
  });

  it('keeps the page sizes the app and the tests use under the default limit', () => {
    const cases: [DocumentNode, Record<string, unknown>][] = [
      [sdk.DashboardDocument, { first: 20, messages: 20 }],
      [sdk.ConversationsDocument, { first: 100, filter: { titleContains: 'plan' } }],
      [sdk.ConversationDocument, { id: 'x', first: 100 }],
      [sdk.UsersDocument, { first: 100 }],
      [sdk.AuditEventsDocument, { first: 100 }],
    ];
    for (const [document, variables] of cases) expect(cost(document, variables)).toBeLessThan(DEFAULT_QUERY_LIMITS.maxCost);
  });

  it('prices 15 aliases of a page of 100 message bodies (~15 MB of response) over the default limit', () => {
    const aliases = Array.from({ length: 15 }, (_, i) => `a${i}: conversation(id: "x") { messages(first: 100) { nodes { body } } }`);
    expect(cost(parse(`{ ${aliases.join(' ')} }`))).toBeGreaterThan(DEFAULT_QUERY_LIMITS.maxCost);
  });

  it('prices 15 aliases of a title search with totalCount over the default limit', () => {
    const aliases = Array.from({ length: 15 }, (_, i) => `a${i}: conversations(filter: { titleContains: "e${i}" }) { totalCount }`);
    expect(cost(parse(`{ ${aliases.join(' ')} }`))).toBeGreaterThan(DEFAULT_QUERY_LIMITS.maxCost);
  });

  it('allows at most four title searches per request under the default limit', () => {
    const searches = (n: number) =>
      parse(
        `{ ${Array.from({ length: n }, (_, i) => `s${i}: conversations(first: 1, filter: { titleContains: "t" }) { nodes { id } }`).join(' ')} }`,
      );
    expect(cost(searches(4))).toBeLessThanOrEqual(DEFAULT_QUERY_LIMITS.maxCost);
    expect(cost(searches(5))).toBeGreaterThan(DEFAULT_QUERY_LIMITS.maxCost);
  });

  it('charges a text field by its cap, a counted totalCount, and a text search', () => {
    const bodies = cost(parse('{ conversation(id: "x") { messages(first: 10) { nodes { body } } } }'));
    const ids = cost(parse('{ conversation(id: "x") { messages(first: 10) { nodes { id } } } }'));
    expect(bodies).toBeGreaterThan(ids);
    const counted = cost(parse('{ conversations(first: 1) { totalCount } }'));
    const counter = cost(parse('{ conversation(id: "x") { messages(first: 1) { totalCount } } }'));
    expect(counted).toBeGreaterThan(counter);
    const searched = cost(parse('{ conversations(first: 1, filter: { titleContains: "a" }) { totalCount } }'));
    expect(searched).toBeGreaterThan(counted);
  });
  it.each([
    ['conversations', '{ conversations(SIZE) { nodes { id title } } }'],
    ['users', '{ users(SIZE) { nodes { id email } } }'],
    ['auditEvents', '{ auditEvents(SIZE) { nodes { id } } }'],
    ['Conversation.messages', '{ conversation(id: "x") { messages(SIZE) { nodes { body } } } }'],
  ])('prices %s(last: n) as it prices first: n, by the page size', (_field, template) => {
    const at = (size: string) => cost(parse(template.replace('SIZE', size)));
    for (const n of [1, 37, 100]) expect(at(`last: ${n}`)).toBe(at(`first: ${n}`));
    expect(at('last: 100')).toBeGreaterThan(at('last: 10'));
    // Both given (refused when resolved): never cheaper than the larger alone.
    expect(at('first: 1, last: 100')).toBe(at('first: 100'));
  });

  it('refuses 15 aliases of messages(last: 100) { nodes { body } } as it refuses first: 100', () => {
    const aliases = Array.from({ length: 15 }, (_, i) => `a${i}: conversation(id: "x") { messages(last: 100) { nodes { body } } }`);
    expect(cost(parse(`{ ${aliases.join(' ')} }`))).toBeGreaterThan(DEFAULT_QUERY_LIMITS.maxCost);
  });
});
