import { backward, forward } from '../access-path.js';
import type { DomainModule, NodeTypes } from '../domain-module.js';
import { createConversationLoaders } from './loaders.js';
import {
  countConversationsQuery,
  findConversationsByIdsQuery,
  findConversationsWithMessagesByIdsQuery,
  insertConversationQuery,
  listConversationsQuery,
  listConversationsWithMessagesQuery,
  updateConversationQuery,
} from './queries.js';
import { conversationResolvers } from './resolvers.js';

const nodeTypes: NodeTypes = {
  Conversation: (id, context) => context.loaders.conversationById.load(id),
};

/** Conversations (schema/conversations.graphql). */
export const conversationsModule = {
  name: 'conversations',
  resolvers: conversationResolvers,
  createLoaders: createConversationLoaders,
  nodeTypes,
  accessPaths: [
    { name: 'listConversations', query: (tx) => listConversationsQuery(tx, {}, forward(null)) },
    { name: 'listConversations(after)', query: (tx, s) => listConversationsQuery(tx, {}, forward(s.conversationCursor)) },
    { name: 'listConversations(before)', query: (tx, s) => listConversationsQuery(tx, {}, backward(s.conversationCursor)) },
    { name: 'listConversations(archived: false)', query: (tx) => listConversationsQuery(tx, { archived: false }, forward(null)) },
    { name: 'listConversations(titleContains)', query: (tx, s) => listConversationsQuery(tx, { titleContains: s.titleWord }, forward(null)) },
    {
      name: 'listConversationsWithMessages',
      query: (tx) => listConversationsWithMessagesQuery(tx, { archived: false }, forward(null), forward(null)),
    },
    { name: 'countConversations', query: (tx) => countConversationsQuery(tx, {}) },
    { name: 'countConversations(archived: false)', query: (tx) => countConversationsQuery(tx, { archived: false }) },
    { name: 'findConversationsByIds', query: (tx, s) => findConversationsByIdsQuery(tx, s.conversationIds) },
    {
      name: 'findConversationsWithMessagesByIds',
      query: (tx, s) => findConversationsWithMessagesByIdsQuery(tx, s.conversationIds, forward(null)),
    },
    { name: 'insertConversation', write: true, query: (tx, s) => insertConversationQuery(tx, 'cli explain (rolled back)', s.authorId) },
    {
      name: 'updateConversation',
      write: true,
      query: (tx, s) => updateConversationQuery(tx, s.conversation.id, { archived: s.conversation.archived }),
    },
  ],
} satisfies DomainModule<ReturnType<typeof createConversationLoaders>>;
