import type { ConversationChangeKind } from '../../__generated__/resolvers.js';
import type { Resolvers } from '../../__generated__/resolvers.js';
import { encodeGlobalId } from '../../graphql/global-id.js';
import { required } from '../../graphql/row-values.js';
import type { RealtimeEventParent } from './rows.js';

const CHANGE_KINDS: Record<string, ConversationChangeKind> = {
  CONVERSATION_CREATED: 'CREATED',
  CONVERSATION_RENAMED: 'RENAMED',
  CONVERSATION_ARCHIVED: 'ARCHIVED',
};

/**
 * Subscriptions are served by src/realtime/, which reads events per tenant in batches and executes each
 * subscriber's document with the event as the root value; graphql-js' own `subscribe` is never used, so the
 * root fields only hand that root value on.
 */
function servedByRealtime(): never {
  throw new Error('Subscriptions are served by the realtime fan-out (src/realtime), not by graphql-js subscribe');
}

const passEvent = (root: RealtimeEventParent) => root;

export const realtimeResolvers = {
  Subscription: {
    messagePosted: { subscribe: servedByRealtime, resolve: passEvent },
    conversationChanged: { subscribe: servedByRealtime, resolve: passEvent },
  },
  MessagePostedEvent: {
    message: async ({ event }, _args, context) => required(await context.loaders.messageById.load(event.message_id!), 'message'),
  },
  ConversationChangedEvent: {
    kind: ({ event }) => CHANGE_KINDS[event.kind]!,
    conversationId: ({ event }) => encodeGlobalId('Conversation', event.conversation_id),
    conversation: ({ event }, _args, context) => context.loaders.conversationById.load(event.conversation_id),
  },
} satisfies Resolvers;
