import v8 from 'node:v8';
import vm from 'node:vm';
import { parse, type OperationDefinitionNode } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CostMemo, declaredVariables } from '../../src/server/plugins/cost-memo.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { createTestTenant, type TestTenant } from '../support/tenants.js';

let server: TestServer;
let tenant: TestTenant;
beforeAll(async () => {
  server = await startTestServer();
  tenant = await createTestTenant();
});
afterAll(async () => {
  await server.close();
});

/** A full garbage collection on demand, in this worker's isolate (where the in-process server runs too). */
v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;
function heapAfterGc(): number {
  gc();
  gc();
  return v8.getHeapStatistics().used_heap_size;
}

async function inParallel(count: number, concurrency: number, send: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) await send(next++);
    }),
  );
}

/**
 * `count` requests, half without a token, half with one, every one under its own operation name (a renamed
 * operation is a new document) and with an undeclared variable of `padChars` characters that differs per
 * request; the authenticated half also sends the same text in a declared variable.
 */
async function flood(label: string, count: number, padChars: number): Promise<void> {
  const pad = 'x'.repeat(padChars);
  await inParallel(count, 16, async (i) => {
    const name = `${label}${i}`;
    const distinct = `${i}:${pad}`;
    if (i % 2 === 0) {
      const result = await server.post({ query: `query ${name} { viewer { user { id } } }`, variables: { pad: distinct } });
      expect(result.status).toBe(401);
    } else {
      const result = await server.post(
        { query: `query ${name}($id: ID!) { node(id: $id) { id } }`, variables: { id: distinct, pad: distinct } },
        { authorization: `Bearer ${tenant.admin.token}` },
      );
      expect(result.json.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    }
  });
}

describe('the query-cost memo', () => {
  it('keeps the heap within 1.25× of a baseline run after 2,000 distinct requests with 100 KB variables, with and without a token', async () => {
    // Baseline: 2,000 requests under 2,000 operation names with tiny variables. Apollo keeps the parsed
    // documents, so the heap measured after it includes them.
    await flood('Op', 2000, 10);
    const baseline = heapAfterGc();
    // The same operations, now each with variables of 100 KB (~300 MB in total). The memo used to keep every
    // one of them (keyed by all variables, filled before authentication, 256 per document and any number of
    // documents): the heap then grew by about that much.
    await flood('Op', 2000, 100_000);
    const attacked = heapAfterGc();
    expect(attacked / baseline, `heap ${Math.round(baseline / 2 ** 20)} MiB -> ${Math.round(attacked / 2 ** 20)} MiB`).toBeLessThan(1.25);
  }, 120_000);

  it('is bounded in entries and in bytes, and does not remember a key longer than its limit', () => {
    const memo = new CostMemo({ maxEntries: 1000, maxBytes: 64 * 1024, maxKeyChars: 512 });
    const document = parse('query Q($n: Int) { __typename }');
    for (let i = 0; i < 5000; i++) {
      const key = memo.keyOf(parse(`query Q${i} { __typename }`), `Q${i}`, { n: 'y'.repeat(i % 400) });
      expect(key).toBeDefined();
      memo.set(key!, i);
    }
    expect(memo.entries).toBeGreaterThan(0);
    expect(memo.entries).toBeLessThanOrEqual(1000);
    expect(memo.bytes).toBeLessThanOrEqual(64 * 1024);
    expect(memo.keyOf(document, 'Q', { n: 'y'.repeat(600) })).toBeUndefined();
    expect(memo.keyOf(document, 'Q'.repeat(600), {})).toBeUndefined();
    const small = memo.keyOf(document, 'Q', { n: 3 })!;
    memo.set(small, 42);
    expect(memo.get(small)).toBe(42);
    // Another document with the same name and variables is another entry.
    expect(memo.get(memo.keyOf(parse('query Q($n: Int) { __typename __typename }'), 'Q', { n: 3 })!)).toBeUndefined();
  });

  it('keys only by the variables the operation declares', () => {
    const operation = parse('query Q($first: Int, $after: String) { __typename }').definitions[0] as OperationDefinitionNode;
    const inherited = Object.create({ first: 99 }) as Record<string, unknown>;
    inherited.after = 'c';
    expect(declaredVariables(operation, { first: 5, after: null, undeclared: 'x'.repeat(10) })).toEqual({ first: 5, after: null });
    expect(declaredVariables(operation, inherited)).toEqual({ after: 'c' });
    expect(declaredVariables(operation, {})).toEqual({});
  });
});
