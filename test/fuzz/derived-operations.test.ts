import { buildASTSchema, parse, validate } from 'graphql';
import { describe, expect, it } from 'vitest';
import { loadTypeDefs } from '../../src/graphql/schema-files.js';
import { derivedRequest } from './derived-operations.js';
import type { TenantModel } from './tenant-model.js';

// The fuzzer derives operations from the SDL for root fields its hand-written specs do not send (a new module's).
// A scratch extension of the real schema stands in for such a module.

const scratch = `
  type ScratchTag implements Node { id: ID! name: String! createdAt: DateTime! conversation: Conversation! }
  enum ScratchColour { RED BLUE }
  input ScratchTagInput { conversationId: ID! name: String! colour: ScratchColour }
  type ScratchTagPayload { tag: ScratchTag! }
  extend type Query { scratchTags(first: Int): [ScratchTag!]! }
  extend type Mutation { tagConversation(input: ScratchTagInput!): ScratchTagPayload! }
`;
const schema = buildASTSchema(parse([...loadTypeDefs(), scratch].join('\n')));
const tenant = (index: number, conversationIds: string[]) =>
  ({
    index,
    marker: `fzderived0t${index}`,
    tenantId: String(index + 1),
    users: [],
    conversations: conversationIds.map((id) => ({ id })),
  }) as unknown as TenantModel;
const gid = (n: number) => Buffer.from(`Conversation:00000000-0000-0000-0000-00000000000${n}`).toString('base64url');

describe('operations derived from the SDL', () => {
  it('builds a valid document selecting every field, with ids of the type the argument names, own or foreign', () => {
    const [own, other] = [tenant(0, [gid(1)]), tenant(1, [gid(2)])];
    const seen = new Set<string>();
    for (let seed = 0; seed < 40; seed += 1) {
      const { query, variables } = derivedRequest(schema, 'Mutation.tagConversation', seed, own, { tenants: [own, other] });
      expect(validate(schema, parse(query)), query).toEqual([]);
      expect(query).toMatch(/tagConversation\(input: \$input\) \{ __typename tag \{ __typename id name createdAt conversation \{/);
      const input = variables.input as { conversationId: string; name: string; colour?: string };
      expect([gid(1), gid(2)]).toContain(input.conversationId);
      expect(input.name).toMatch(/^fzderived0t0 derived \d+$/);
      if (input.colour !== undefined) expect(['RED', 'BLUE']).toContain(input.colour);
      seen.add(input.conversationId);
    }
    // Both the caller's own conversation and another tenant's are tried.
    expect(seen).toEqual(new Set([gid(1), gid(2)]));
  });

  it('stops with a request for a hand-written spec when an argument type cannot be derived', () => {
    const odd = buildASTSchema(parse([...loadTypeDefs(), 'scalar Upload\nextend type Mutation { upload(file: Upload!): Boolean! }'].join('\n')));
    expect(() => derivedRequest(odd, 'Mutation.upload', 1, tenant(0, []), { tenants: [] })).toThrow(
      /cannot derive a value of type Upload \(argument file of Mutation\.upload\): write an operation spec/,
    );
  });
});
