import { getArgumentValues, isObjectType, type FieldNode, type GraphQLResolveInfo } from 'graphql';
import type { Resolvers } from '../../__generated__/resolvers.js';
import { NotFoundError } from '../../errors/app-error.js';
import { connectionResolvers, pageWindow, parsePageRequest, toConnection, type PageArgs } from '../../graphql/connection.js';
import { decodeGlobalId, encodeGlobalId } from '../../graphql/global-id.js';
import { requireText } from '../../graphql/input.js';
import { required, toIsoTimestamp } from '../../graphql/row-values.js';
import { viewerOf, type RequestContext } from '../../graphql/request-context.js';
import { fieldNodesAt, selectsPath } from '../../graphql/lookahead.js';
import type { KeysetWindow } from '../../graphql/keyset.js';
import type { UserRow } from '../directory/rows.js';
import { windowGroups, type MessagePageKey } from '../messages/loaders.js';
import {
  countConversations,
  insertConversation,
  listConversations,
  listConversationsWithMessages,
  updateConversation,
  type ConversationFilter,
  type ConversationWithMessages,
} from './queries.js';
import type { ConversationRow } from './rows.js';

export const TITLE_MAX_LENGTH = 200;

/**
 * Authors fetched with their messages go into this request's `userById`, so `Message.author` finds them there.
 * SECURITY: the loaders live for one request (one tenant); nothing is shared across requests.
 */
function primeUsers(context: RequestContext, users: readonly UserRow[]): void {
  for (const user of users) context.loaders.userById.prime(user.id, user);
}

type Selection = Pick<GraphQLResolveInfo, 'fieldNodes' | 'fragments'>;

/**
 * How `Conversation.lastMessage` and `Conversation.messages` name the message page they load (the key of
 * `messagesByConversationId` without the conversation): the one place that says it, for the fields themselves
 * and for a conversations page that fetches their messages beforehand (listConversationsPage).
 */
const LAST_MESSAGE = {
  field: 'lastMessage',
  pageOf: (_args: unknown, selection: Selection): Omit<MessagePageKey, 'conversationId'> => ({
    window: { limit: 1, cursor: null, direction: 'forward' },
    withAuthors: selectsPath(selection, ['author']),
  }),
};
const MESSAGES = {
  field: 'messages',
  pageOf: (args: PageArgs, selection: Selection): Omit<MessagePageKey, 'conversationId'> => ({
    window: pageWindow(parsePageRequest(args)),
    withAuthors: selectsPath(selection, ['nodes', 'author']) || selectsPath(selection, ['edges', 'node', 'author']),
  }),
};

/**
 * A page of conversations; when the query selects their `lastMessage` or `messages` (first pages, or pages from
 * one cursor), with those messages and authors in the same statement, primed into the request's
 * `messagesByConversationId` under the keys those fields will load: the Dashboard costs one data statement
 * instead of two. A page the fields end up not asking for (a `@skip`) only cost a join; a key they compute
 * differently (another alias of `nodes`) is a cache miss that loads as before, never a wrong answer, since every
 * primed page is exactly what its key's statement returns.
 */
async function listConversationsPage(
  context: RequestContext,
  info: GraphQLResolveInfo,
  filter: ConversationFilter,
  window: KeysetWindow,
): Promise<ConversationRow[]> {
  const pages = messagePagesSelected(info, [['nodes'], ['edges', 'node']]);
  const messageWindow = sharedMessageWindow(pages);
  if (!messageWindow) return listConversations(await context.tx(), filter, window);
  const rows = await listConversationsWithMessages(await context.tx(), filter, window, messageWindow);
  primeMessagePages(context, rows, pages);
  return rows.map((row) => row.conversation);
}

/**
 * The one window that serves every page, or undefined when there is nothing to fetch or the pages start from
 * different cursors (or go different ways): those need statements of their own, as in the messages loader.
 */
function sharedMessageWindow(pages: readonly Omit<MessagePageKey, 'conversationId'>[]): KeysetWindow | undefined {
  const groups = windowGroups(pages);
  return groups.length === 1 ? groups[0]!.window : undefined;
}

/** Each conversation's messages, as the page of each key its message fields will load. */
function primeMessagePages(
  context: RequestContext,
  rows: readonly ConversationWithMessages[],
  pages: readonly Omit<MessagePageKey, 'conversationId'>[],
): void {
  for (const { conversation, messages } of rows) {
    for (const page of pages) {
      const own = messages.slice(0, page.window.limit);
      context.loaders.messagesByConversationId.prime(
        { conversationId: conversation.id, ...page },
        { messages: own.map((row) => row.message), authors: own.map((row) => row.author) },
      );
    }
  }
}

/**
 * The message pages the query's conversations at `paths` below the field will load (see listConversationsPage);
 * none when an argument is invalid.
 */
function messagePagesSelected(info: GraphQLResolveInfo, paths: readonly (readonly string[])[]): Omit<MessagePageKey, 'conversationId'>[] {
  const conversationType = info.schema.getType('Conversation');
  if (!isObjectType(conversationType)) return [];
  const fields = conversationType.getFields();
  const pages: Omit<MessagePageKey, 'conversationId'>[] = [];
  try {
    for (const path of paths) {
      for (const child of [LAST_MESSAGE, MESSAGES]) {
        for (const fieldNodes of fieldNodesAt(info, [...path, child.field])) {
          const args = getArgumentValues(fields[child.field]!, fieldNodes[0]!, info.variableValues) as PageArgs;
          pages.push(child.pageOf(args, { fieldNodes: fieldNodes as readonly FieldNode[], fragments: info.fragments }));
        }
      }
    }
  } catch {
    // An invalid page argument: the field itself reports it when it runs.
    return [];
  }
  return pages;
}

export const conversationResolvers = {
  Query: {
    conversations: async (_parent, args, context, info) => {
      const page = parsePageRequest(args);
      const filter = {
        archived: args.filter?.archived ?? null,
        titleContains: args.filter?.titleContains ? requireText(args.filter.titleContains, 'titleContains', TITLE_MAX_LENGTH) : null,
      };
      const rows = await listConversationsPage(context, info, filter, pageWindow(page));
      return toConnection(rows, page, async () => countConversations(await context.tx(), filter));
    },
    conversation: async (_parent, { id }, context, info) => {
      const { localId } = decodeGlobalId(id, 'Conversation');
      const pages = messagePagesSelected(info, [[]]);
      const window = sharedMessageWindow(pages);
      if (!window) return context.loaders.conversationById.load(localId);
      // The conversation with the messages its fields will load, in one statement (see listConversationsPage).
      const found = await context.loaders.conversationWithMessagesById.load({ id: localId, window });
      context.loaders.conversationById.prime(localId, found?.conversation ?? null);
      if (found) primeMessagePages(context, [found], pages);
      return found?.conversation ?? null;
    },
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
        ...LAST_MESSAGE.pageOf(undefined, info),
      });
      primeUsers(context, authors);
      return messages[0] ?? null;
    },
    messages: async (conversation, args, context, info) => {
      const page = parsePageRequest(args);
      const { messages, authors } = await context.loaders.messagesByConversationId.load({
        conversationId: conversation.id,
        ...MESSAGES.pageOf(args, info),
      });
      primeUsers(context, authors);
      return toConnection(messages, page, () => conversation.message_count);
    },
  },
  ConversationConnection: connectionResolvers,
  ConversationEdge: {},
} satisfies Resolvers;
