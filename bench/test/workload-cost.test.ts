import { buildSchema, parse } from 'graphql';
import { getComplexity } from 'graphql-query-complexity';
import { describe, expect, it } from 'vitest';
import { DEFAULT_QUERY_LIMITS } from '../../src/config/env.js';
import { loadTypeDefs } from '../../src/graphql/schema-files.js';
import { QUERY_COST_ESTIMATORS } from '../../src/server/plugins/query-cost.js';
import { M1_DOCUMENT, Q1_DOCUMENT, Q1_VARIABLES, Q2_DOCUMENT } from '../lib/workloads.js';

// The benchmark's own documents, tested where they live (test/ does not import bench/): a benchmark whose
// workloads the shipped cost limit refuses would measure refusals. The SDK's documents: test/query-cost.test.ts.
const schema = buildSchema(loadTypeDefs().join('\n'));
const cost = (document: string, variables: Record<string, unknown>) =>
  getComplexity({ schema, query: parse(document), variables, estimators: QUERY_COST_ESTIMATORS });

describe('the benchmark workloads under the query cost limit', () => {
  it("keeps the benchmark's documents under the default limit", () => {
    expect(cost(Q1_DOCUMENT, Q1_VARIABLES)).toBeLessThan(DEFAULT_QUERY_LIMITS.maxCost);
    expect(cost(Q2_DOCUMENT, { id: 'x' })).toBeLessThan(DEFAULT_QUERY_LIMITS.maxCost);
    expect(cost(M1_DOCUMENT, { input: { conversationId: 'x', body: 'x' } })).toBeLessThan(DEFAULT_QUERY_LIMITS.maxCost);
  });
});
