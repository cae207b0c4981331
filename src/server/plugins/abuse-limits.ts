import type { ApolloServerPlugin } from '@apollo/server';
import { ApolloArmor } from '@escape.tech/graphql-armor';
import { getComplexity } from 'graphql-query-complexity';
import { GraphQLError, type DocumentNode, type GraphQLSchema, type ValidationContext, type ValidationRule } from 'graphql';
import { foundInArmorMessage, QueryLimitError, tokenLimitOf } from '../../errors/query-limit-errors.js';
import { isIntrospectionOnly } from './authentication-plugin.js';
import { CostMemo, declaredVariables } from './cost-memo.js';
import { QUERY_COST_ESTIMATORS } from './query-cost.js';
import type { RequestContext } from '../../graphql/request-context.js';
import type { AbuseLimitName } from '../../limits/abuse-limit-names.js';

export interface AbuseLimits {
  maxDepth: number;
  maxAliases: number;
  maxTokens: number;
  maxDirectives: number;
  maxCost: number;
}

/**
 * Query shape limits, from well-kept libraries: graphql-js' own parser for tokens (`parseOptions.maxTokens`:
 * a parse error, 400), GraphQL Armor for depth, aliases and directives (validation rules: a rejected document
 * never executes), graphql-query-complexity for cost. Each rejection has its own code and names the limit and
 * its value (errors/query-limit-errors.ts).
 */
export function abuseLimits(
  limits: AbuseLimits,
  production: boolean,
  /** Told once per refused document which limit refused it (metrics). */
  onReject: (limit: AbuseLimitName) => void = () => {},
): {
  validationRules: ValidationRule[];
  plugins: ApolloServerPlugin<RequestContext>[];
  parseOptions: { maxTokens: number };
} {
  // Armor's own rejection is a "Syntax Error: …" GraphQLError (Apollo: GRAPHQL_VALIDATION_FAILED); it is not
  // propagated, and the rule reports a QueryLimitError in its place.
  const rejectWith = (limit: 'depth' | 'aliases' | 'directives', max: number) => ({
    n: max,
    exposeLimits: true,
    propagateOnRejection: false,
    onReject: [
      (context: ValidationContext | null, error: GraphQLError) => {
        onReject(limit);
        context?.reportError(new QueryLimitError(limit, max, foundInArmorMessage(error.message)));
      },
    ],
  });
  const armor = new ApolloArmor({
    maxDepth: { ...rejectWith('depth', limits.maxDepth), ignoreIntrospection: true },
    maxAliases: rejectWith('aliases', limits.maxAliases),
    // Armor checks tokens in a parsingDidStart hook, which Apollo answers with a 500; the parser option is exact.
    maxTokens: { enabled: false },
    maxDirectives: rejectWith('directives', limits.maxDirectives),
    // Cost is computed below, where it can grow with `first`.
    costLimit: { enabled: false },
    // Suggestions ("did you mean …") reveal the schema; fine in development, off in production.
    blockFieldSuggestion: { enabled: production },
  }).protect();
  return {
    validationRules: armor.validationRules,
    plugins: [...(armor.plugins as ApolloServerPlugin<RequestContext>[]), costLimitPlugin(limits.maxCost, onReject), tokenLimitReporter(onReject)],
    parseOptions: { maxTokens: limits.maxTokens },
  };
}

function costOf(
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName: string | undefined,
  variables: Record<string, unknown>,
  memo: CostMemo | undefined,
): number {
  const key = memo?.keyOf(document, operationName, variables);
  const cached = key === undefined ? undefined : memo!.get(key);
  if (cached !== undefined) return cached;
  const cost = getComplexity({
    schema,
    query: document,
    variables,
    ...(operationName ? { operationName } : {}),
    estimators: QUERY_COST_ESTIMATORS,
  });
  if (key !== undefined) memo!.set(key, cost);
  return cost;
}

function costLimitPlugin(maxCost: number, onReject: (limit: AbuseLimitName) => void): ApolloServerPlugin<RequestContext> {
  const memo = new CostMemo();
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ schema, document, request, operation, operationName, contextValue }) {
          // SECURITY: without a token only introspection may run (authentication-plugin.ts refuses the rest in
          // this same hook round); costing that rest would be wasted work, and remembering anything for a
          // client without a token would let anyone fill the memo.
          if (!contextValue.principal && !isIntrospectionOnly(operation)) return;
          const memoFor = contextValue.principal ? memo : undefined;
          let cost: number;
          try {
            // Undeclared variables never change a cost (getComplexity coerces only the declared ones).
            cost = costOf(schema, document, operationName ?? undefined, declaredVariables(operation, request.variables ?? {}), memoFor);
          } catch (error) {
            // getComplexity coerces the variables and throws on invalid ones (an unknown input field, a wrong
            // type). Thrown from this hook, Apollo would answer 500 INTERNAL_SERVER_ERROR; let Apollo's own
            // coercion report them as 400 BAD_USER_INPUT instead. Nothing executes with invalid variables.
            if (error instanceof GraphQLError) return;
            throw error;
          }
          if (cost > maxCost) {
            onReject('cost');
            // A request-level rejection (nothing executed): 400, like the other limits, not Apollo's 500 default
            // for errors thrown from request hooks.
            throw new QueryLimitError('cost', maxCost, cost);
          }
        },
      };
    },
  };
}

/** The token limit is the parser's own (see above); this only reports its parse errors as rejections. */
function tokenLimitReporter(onReject: (limit: AbuseLimitName) => void): ApolloServerPlugin<RequestContext> {
  return {
    async requestDidStart() {
      return {
        async parsingDidStart() {
          return async (error) => {
            if (error && tokenLimitOf(error.message) !== undefined) onReject('tokens');
          };
        },
      };
    },
  };
}
