import { describe, expect, expectTypeOf, it } from 'vitest';
import { findResolverProblems, assertResolversComplete } from '../../src/graphql/resolver-check.js';
import { loadTypeDefs } from '../../src/graphql/schema-files.js';
import { mergeModules, type DomainModule } from '../../src/modules/domain-module.js';
import type { UnresolvedFields } from '../../src/modules/covered-resolvers.js';
import { allResolvers, NODE_TYPES, type DomainModulesResolvers } from '../../src/modules/index.js';
import { conversationsModule } from '../../src/modules/conversations/module.js';
import { directoryModule } from '../../src/modules/directory/module.js';
import { messagesModule } from '../../src/modules/messages/module.js';
import { auditModule } from '../../src/modules/audit/module.js';

const registered = () => ({ typeDefs: loadTypeDefs(), resolvers: allResolvers() as Record<string, unknown>, nodeTypes: Object.keys(NODE_TYPES) });

describe('mergeModules', () => {
  it('refuses a Type.field two modules both define, naming both modules', () => {
    const labels: DomainModule = { name: 'labels', resolvers: { Conversation: { createdAt: () => 'shadowed' } } };
    expect(() => mergeModules([conversationsModule, labels])).toThrow(
      /resolver Conversation\.createdAt is defined by both module "conversations" and module "labels"/,
    );
  });

  it('refuses a duplicate loader, node type, access path and unique constraint, listing every clash at once', () => {
    const copy: DomainModule = {
      name: 'copy',
      resolvers: {},
      createLoaders: directoryModule.createLoaders,
      nodeTypes: { User: directoryModule.nodeTypes.User! },
      accessPaths: [directoryModule.accessPaths[0]!],
      uniqueViolations: { users_tenant_email_key: { sentence: 'again' } },
    };
    let message = '';
    try {
      mergeModules([directoryModule, copy]);
    } catch (error) {
      message = (error as Error).message;
    }
    for (const clash of [
      'loader userById',
      'loader tenantById',
      'node type User',
      'access path findCurrentTenant',
      'unique constraint users_tenant_email_key',
    ]) {
      expect(message).toContain(`${clash} is defined by both module "directory" and module "copy"`);
    }
  });

  it('merges disjoint modules: every field of each, every loader, node type and access path', () => {
    const merged = mergeModules([directoryModule, conversationsModule, messagesModule, auditModule]);
    expect(Object.keys(merged.resolvers.Query ?? {}).sort()).toEqual(['auditEvents', 'conversation', 'conversations', 'users', 'viewer']);
    expect(Object.keys(merged.nodeTypes).sort()).toEqual(['Conversation', 'Message', 'Tenant', 'User']);
    expect(Object.keys(merged.createLoaders(() => Promise.reject(new Error('unused')))).sort()).toEqual([
      'conversationById',
      'conversationWithMessagesById',
      'messageById',
      'messagesByConversationId',
      'tenantById',
      'userById',
    ]);
  });
});

describe('assertResolversComplete (the boot check)', () => {
  it('accepts the registered modules', () => {
    expect(findResolverProblems(registered())).toEqual([]);
  });

  it('refuses a root field without a resolver, naming Type.field', () => {
    const input = registered();
    input.typeDefs = [...input.typeDefs, 'type ScratchTag { id: ID! name: String! }\nextend type Query { scratchTags: [ScratchTag!]! }'];
    expect(() => assertResolversComplete(input)).toThrow(/Query\.scratchTags has no resolver: a root field needs one/);
  });

  it('refuses every gap a forgotten module leaves, all at once', () => {
    const merged = mergeModules([directoryModule, messagesModule, auditModule]);
    const problems = findResolverProblems({
      typeDefs: loadTypeDefs(),
      resolvers: merged.resolvers as Record<string, unknown>,
      nodeTypes: Object.keys(merged.nodeTypes),
    });
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^Query\.conversations has no resolver/),
        expect.stringMatching(/^Query\.conversation has no resolver/),
        expect.stringMatching(/^Mutation\.createConversation has no resolver/),
        expect.stringMatching(/^Conversation\.messages has no resolver: a field with arguments needs one/),
        expect.stringMatching(/^Node\.__resolveType is missing/),
        expect.stringMatching(/^Conversation implements Node but no module registers a node type for it/),
      ]),
    );
  });

  it('refuses a resolver for a field the SDL does not declare', () => {
    const input = registered();
    input.resolvers = { ...input.resolvers, Conversation: { ...(input.resolvers.Conversation as object), labelz: () => [] } };
    expect(findResolverProblems(input)).toEqual(['Conversation.labelz has a resolver but the SDL declares no such field.']);
  });
});

describe('Node.__resolveType', () => {
  it('never guesses a type from the columns of an object Query.node did not load', () => {
    const resolveType = (allResolvers().Node as { __resolveType: (row: object) => unknown }).__resolveType;
    // Has the column the old guess read (`body` meant Message): it must not pass for one.
    expect(() => resolveType({ id: '1', body: 'looks like a message' })).toThrow(/did not load/);
  });
});

describe('UnresolvedFields (the compile-time check of the registry)', () => {
  it('names each field no registered module resolves, whichever module declares it', () => {
    type Registered = DomainModulesResolvers;
    // The registry as it is: nothing unresolved.
    expectTypeOf<UnresolvedFields<Registered>>().toEqualTypeOf<never>();
    // The conversations module without Conversation.createdAt (no column of that name) and without Query.conversation.
    const { createdAt: _createdAt, ...conversationFields } = conversationsModule.resolvers.Conversation;
    const { conversation: _conversation, ...queryFields } = conversationsModule.resolvers.Query;
    type Conversations = typeof conversationsModule.resolvers;
    type Others = Exclude<Registered, Conversations>;
    type WithGaps = Others | (Omit<Conversations, 'Conversation' | 'Query'> & { Conversation: typeof conversationFields; Query: typeof queryFields });
    expectTypeOf<UnresolvedFields<WithGaps>>().toEqualTypeOf<'Conversation.createdAt' | 'Query.conversation'>();
    // A field resolved by another module than the one that owns the type counts: a labels module may resolve Conversation.labels.
    type Moved = WithGaps | { Conversation: { createdAt: () => string } };
    expectTypeOf<UnresolvedFields<Moved>>().toEqualTypeOf<'Query.conversation'>();
    // `id` always needs one: it is a global id, never the row's own key.
    const { id: _id, ...messageFields } = messagesModule.resolvers.Message;
    type WithoutMessageId =
      Exclude<Registered, typeof messagesModule.resolvers> | (Omit<typeof messagesModule.resolvers, 'Message'> & { Message: typeof messageFields });
    expectTypeOf<UnresolvedFields<WithoutMessageId>>().toEqualTypeOf<'Message.id'>();
    expect([_createdAt, _conversation, _id].every((resolver) => typeof resolver === 'function')).toBe(true);
  });
});
