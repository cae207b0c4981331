import { encodeGlobalId } from '../../src/graphql/global-id.js';

/**
 * The workloads as PostGraphile documents: each fetches exactly what the API's Q1, Q2 and M1 fetch (the same
 * rows, columns, order and limits), in PostGraphile's own names. `lastMessage` is the newest message, as in the
 * API. `toApiShape` turns an answer into the API's JSON (global ids, ISO timestamps), so the bench can check that
 * both return the same data before measuring.
 */
export const POSTGRAPHILE_Q1_DOCUMENT = `query Dashboard($first: Int!, $messages: Int!) {
  allConversations(first: $first, condition: { archived: false }, orderBy: [CREATED_AT_DESC, ROW_ID_DESC]) {
    nodes {
      rowId
      title
      messageCount
      lastMessage: messagesByTenantIdAndConversationId(first: 1, orderBy: [CREATED_AT_DESC, ROW_ID_DESC]) {
        nodes { rowId body userByTenantIdAndAuthorId { rowId displayName } }
      }
      messages: messagesByTenantIdAndConversationId(first: $messages, orderBy: [CREATED_AT_DESC, ROW_ID_DESC]) {
        nodes { rowId body userByTenantIdAndAuthorId { rowId displayName } }
      }
    }
  }
}`;

export const POSTGRAPHILE_Q2_DOCUMENT = `query ConversationView($tenantId: BigInt!, $id: UUID!) {
  conversationByTenantIdAndRowId(tenantId: $tenantId, rowId: $id) {
    rowId
    title
    messageCount
    messagesByTenantIdAndConversationId(first: 50, orderBy: [CREATED_AT_DESC, ROW_ID_DESC]) {
      nodes { rowId body createdAt userByTenantIdAndAuthorId { rowId displayName } }
    }
  }
}`;

export const POSTGRAPHILE_M1_DOCUMENT = `mutation Post($input: CreateMessageInput!) {
  createMessage(input: $input) {
    message {
      rowId
      body
      createdAt
      userByTenantIdAndAuthorId { rowId displayName }
      conversationByTenantIdAndConversationId { rowId messageCount }
    }
  }
}`;

interface PgUser {
  rowId: string;
  displayName: string;
}
interface PgMessage {
  rowId: string;
  body: string;
  createdAt?: string;
  userByTenantIdAndAuthorId: PgUser;
}
interface PgConversation {
  rowId: string;
  title: string;
  messageCount: number;
  lastMessage?: { nodes: PgMessage[] };
  messages?: { nodes: PgMessage[] };
  messagesByTenantIdAndConversationId?: { nodes: PgMessage[] };
}

const user = (u: PgUser) => ({ id: encodeGlobalId('User', u.rowId), displayName: u.displayName });
const iso = (value: string) => new Date(value).toISOString();

/** A PostGraphile answer in the API's shape (what the API's documents select, in its order). */
export function toApiShape(operation: 'Q1' | 'Q2' | 'M1', data: Record<string, unknown>): unknown {
  switch (operation) {
    case 'Q1': {
      const nodes = (data.allConversations as { nodes: PgConversation[] }).nodes;
      return {
        conversations: {
          nodes: nodes.map((c) => {
            const last = c.lastMessage!.nodes[0];
            return {
              id: encodeGlobalId('Conversation', c.rowId),
              title: c.title,
              messageCount: c.messageCount,
              lastMessage: last ? { id: encodeGlobalId('Message', last.rowId), body: last.body, author: user(last.userByTenantIdAndAuthorId) } : null,
              messages: {
                nodes: c.messages!.nodes.map((m) => ({
                  id: encodeGlobalId('Message', m.rowId),
                  body: m.body,
                  author: user(m.userByTenantIdAndAuthorId),
                })),
              },
            };
          }),
        },
      };
    }
    case 'Q2': {
      const c = data.conversationByTenantIdAndRowId as PgConversation | null;
      if (!c) return { conversation: null };
      return {
        conversation: {
          id: encodeGlobalId('Conversation', c.rowId),
          title: c.title,
          messageCount: c.messageCount,
          messages: {
            nodes: c.messagesByTenantIdAndConversationId!.nodes.map((m) => ({
              id: encodeGlobalId('Message', m.rowId),
              body: m.body,
              createdAt: iso(m.createdAt!),
              author: user(m.userByTenantIdAndAuthorId),
            })),
          },
        },
      };
    }
    case 'M1': {
      const m = (data.createMessage as { message: PgMessage & { conversationByTenantIdAndConversationId: PgConversation } }).message;
      const c = m.conversationByTenantIdAndConversationId;
      return {
        postMessage: {
          message: {
            id: encodeGlobalId('Message', m.rowId),
            body: m.body,
            createdAt: iso(m.createdAt!),
            author: user(m.userByTenantIdAndAuthorId),
            conversation: { id: encodeGlobalId('Conversation', c.rowId), messageCount: c.messageCount },
          },
        },
      };
    }
  }
}
