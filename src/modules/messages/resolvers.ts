import type { Resolvers } from '../../__generated__/resolvers.js';
import { NotFoundError } from '../../errors/app-error.js';
import { connectionResolvers } from '../../graphql/connection.js';
import { decodeGlobalId, encodeGlobalId } from '../../graphql/global-id.js';
import { requireText } from '../../graphql/input.js';
import { viewerOf } from '../../graphql/request-context.js';
import { required, toIsoTimestamp } from '../../graphql/row-values.js';
import { insertMessageWithAuthor } from './queries.js';

export const BODY_MAX_LENGTH = 10_000;

export const messageResolvers = {
  Mutation: {
    postMessage: async (_parent, { input }, context) => {
      const { localId } = decodeGlobalId(input.conversationId, 'Conversation', 'conversationId');
      const body = requireText(input.body, 'body', BODY_MAX_LENGTH);
      const inserted = await insertMessageWithAuthor(await context.tx(), {
        conversationId: localId,
        authorId: (await viewerOf(context)).userId,
        body,
      });
      if (!inserted) throw new NotFoundError('conversation', input.conversationId);
      // The author came with the insert: `Message.author` costs no statement of its own (request-scoped loader).
      if (inserted.author) context.loaders.userById.prime(inserted.author.id, inserted.author);
      return { message: inserted.message };
    },
  },
  Message: {
    id: (message) => encodeGlobalId('Message', message.id),
    createdAt: (message) => toIsoTimestamp(message.created_at),
    author: async (message, _args, context) => required(await context.loaders.userById.load(message.author_id), 'author'),
    conversation: async (message, _args, context) => required(await context.loaders.conversationById.load(message.conversation_id), 'conversation'),
  },
  MessageConnection: connectionResolvers,
  MessageEdge: {},
} satisfies Resolvers;
