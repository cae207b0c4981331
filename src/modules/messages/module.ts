import { backward, forward } from '../access-path.js';
import type { DomainModule, NodeTypes } from '../domain-module.js';
import { createMessageLoaders } from './loaders.js';
import {
  findMessagesByIdsQuery,
  insertMessageQuery,
  listMessagesByConversationsQuery,
  listMessagesWithAuthorsByConversationsQuery,
} from './queries.js';
import { messageResolvers } from './resolvers.js';

const nodeTypes: NodeTypes = {
  Message: (id, context) => context.loaders.messageById.load(id),
};

/** Messages of conversations (schema/messages.graphql). */
export const messagesModule = {
  name: 'messages',
  resolvers: messageResolvers,
  createLoaders: createMessageLoaders,
  nodeTypes,
  accessPaths: [
    { name: 'listMessagesByConversations', query: (tx, s) => listMessagesByConversationsQuery(tx, s.conversationIds, forward(null)) },
    {
      name: 'listMessagesWithAuthorsByConversations',
      query: (tx, s) => listMessagesWithAuthorsByConversationsQuery(tx, s.conversationIds, forward(null)),
    },
    {
      name: 'listMessagesByConversations(after)',
      query: (tx, s) => listMessagesByConversationsQuery(tx, s.conversationIds.slice(0, 1), forward(s.messageCursor)),
    },
    {
      name: 'listMessagesByConversations(before)',
      query: (tx, s) => listMessagesByConversationsQuery(tx, s.conversationIds.slice(0, 1), backward(s.messageCursor)),
    },
    { name: 'findMessagesByIds', query: (tx, s) => findMessagesByIdsQuery(tx, s.messageIds) },
    {
      name: 'insertMessage',
      write: true,
      query: (tx, s) => insertMessageQuery(tx, { conversationId: s.conversation.id, authorId: s.authorId, body: 'cli explain (rolled back)' }),
    },
  ],
} satisfies DomainModule<ReturnType<typeof createMessageLoaders>>;
