import type { Resolvers } from '../../__generated__/resolvers.js';
import { NotFoundError } from '../../errors/app-error.js';
import { connectionResolvers, pageWindow, parsePageRequest, toConnection } from '../../graphql/connection.js';
import { decodeGlobalId, encodeGlobalId } from '../../graphql/global-id.js';
import { requireText } from '../../graphql/input.js';
import { required, toIsoTimestamp } from '../../graphql/row-values.js';
import { viewerOf, type RequestContext } from '../../graphql/request-context.js';
import { selectsPath } from '../../graphql/lookahead.js';
import type { UserRow } from '../directory/rows.js';
import { countConversations, insertConversation, listConversations, updateConversation } from './queries.js';

export const TITLE_MAX_LENGTH = 200;

/**
 * Authors fetched with their messages go into this request's `userById`, so `Message.author` finds them there.
 * SECURITY: the loaders live for one request (one tenant); nothing is shared across requests.
 */
function primeUsers(context: RequestContext, users: readonly UserRow[]): void {
  for (const user of users) context.loaders.userById.prime(user.id, user);
}

export const conversationResolvers = {
  Query: {
    conversations: async (_parent, args, context) => {
      const page = parsePageRequest(args);
      const filter = {
        archived: args.filter?.archived ?? null,
        titleContains: args.filter?.titleContains ? requireText(args.filter.titleContains, 'titleContains', TITLE_MAX_LENGTH) : null,
      };
      const rows = await listConversations(await context.tx(), filter, pageWindow(page));
      return toConnection(rows, page, async () => countConversations(await context.tx(), filter));
    },
    conversation: (_parent, { id }, context) => context.loaders.conversationById.load(decodeGlobalId(id, 'Conversation').localId),
  },
  Mutation: {
    createConversation: async (_parent, { input }, context) => {
      const title = requireText(input.title, 'title', TITLE_MAX_LENGTH);
      const conversation = await insertConversation(await context.tx(), title, (await viewerOf(context)).userId);
      return { conversation };
    },
    renameConversation: async (_parent, { input }, context) => {
      const { localId } = decodeGlobalId(input.id, 'Conversation');
      const title = requireText(input.title, 'title', TITLE_MAX_LENGTH);
      const conversation = await updateConversation(await context.tx(), localId, { title });
      if (!conversation) throw new NotFoundError('conversation', input.id);
      return { conversation };
    },
    archiveConversation: async (_parent, { input }, context) => {
      const { localId } = decodeGlobalId(input.id, 'Conversation');
      const conversation = await updateConversation(await context.tx(), localId, { archived: true });
      if (!conversation) throw new NotFoundError('conversation', input.id);
      return { conversation };
    },
  },
  Conversation: {
    id: (conversation) => encodeGlobalId('Conversation', conversation.id),
    createdAt: (conversation) => toIsoTimestamp(conversation.created_at),
    createdBy: async (conversation, _args, context) => required(await context.loaders.userById.load(conversation.created_by), 'creator'),
    messageCount: (conversation) => conversation.message_count,
    lastMessage: async (conversation, _args, context, info) => {
      const { messages, authors } = await context.loaders.messagesByConversationId.load({
        conversationId: conversation.id,
        window: { limit: 1, cursor: null, direction: 'forward' },
        withAuthors: selectsPath(info, ['author']),
      });
      primeUsers(context, authors);
      return messages[0] ?? null;
    },
    messages: async (conversation, args, context, info) => {
      const page = parsePageRequest(args);
      const { messages, authors } = await context.loaders.messagesByConversationId.load({
        conversationId: conversation.id,
        window: pageWindow(page),
        withAuthors: selectsPath(info, ['nodes', 'author']) || selectsPath(info, ['edges', 'node', 'author']),
      });
      primeUsers(context, authors);
      return toConnection(messages, page, () => conversation.message_count);
    },
  },
  ConversationConnection: connectionResolvers,
  ConversationEdge: {},
} satisfies Resolvers;
