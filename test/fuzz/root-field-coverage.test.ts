import { describe, expect, it } from 'vitest';
import * as documents from './documents.js';
import { publicSchema, rootFieldsOf, unexercisedRootFields } from './root-field-coverage.js';

// Issue 10 §2: the fuzzer fails when a root field has no operation spec. The isolation run records the root
// fields it sent and asserts none is missing; these are that check's own tests.

describe('root-field coverage of the fuzzer', () => {
  const schema = publicSchema();

  it('reads root fields through aliases and operation types', () => {
    expect(rootFieldsOf(documents.nodesQuery(2), schema)).toEqual(['Query.node', 'Query.node']);
    expect(rootFieldsOf('mutation M { a: postMessage(input: { conversationId: "x", body: "y" }) { message { id } } }', schema)).toEqual([
      'Mutation.postMessage',
    ]);
  });

  it('names every root field no document selects (a negative control: one field left out)', () => {
    const all = new Set(
      Object.values(documents)
        .map((value) => (typeof value === 'function' ? value(1) : value))
        .filter((value): value is string => typeof value === 'string' && /\b(query|mutation)\b/.test(value))
        .flatMap((document) => rootFieldsOf(document, schema)),
    );
    // Fields the hand-written documents send are not reported…
    expect(unexercisedRootFields(all, schema)).toEqual(expect.not.arrayContaining(['Query.viewer', 'Mutation.postMessage']));
    // …and a missing one is named.
    all.delete('Mutation.inviteUser');
    expect(unexercisedRootFields(all, schema)).toContain('Mutation.inviteUser');
  });
});
