/**
 * The GraphQL documents the fuzzer sends, one per root field of the public API (schema/*.graphql), with every
 * field whose value could carry another tenant's data selected: ids, titles, bodies, emails, names, counts,
 * cursors. Written here rather than taken from src/sdk so that the selections (and so the checks) stay fixed.
 */

export type Role = 'ADMIN' | 'MEMBER';

export interface PageInfo {
  hasNextPage: boolean;
  endCursor: string | null;
  /** Selected by the documents that page both ways. */
  hasPreviousPage?: boolean;
  startCursor?: string | null;
}

export interface UserRef {
  id: string;
  displayName: string;
}

export const VIEWER = /* GraphQL */ `
  query FuzzViewer {
    viewer {
      user {
        id
        email
        displayName
        role
      }
      tenant {
        id
        name
      }
    }
  }
`;
export interface ViewerData {
  viewer: { user: { id: string; email: string; displayName: string; role: Role }; tenant: { id: string; name: string } };
}

const NODE_FIELDS = /* GraphQL */ `
  fragment FuzzNodeFields on Node {
    __typename
    id
    ... on Tenant {
      name
    }
    ... on User {
      email
      displayName
      role
    }
    ... on Conversation {
      title
      archived
      createdAt
      messageCount
    }
    ... on Message {
      body
      createdAt
      author {
        id
      }
      conversation {
        id
      }
    }
  }
`;

export const NODE = /* GraphQL */ `
  query FuzzNode($id: ID!) {
    node(id: $id) {
      ...FuzzNodeFields
    }
  }
  ${NODE_FIELDS}
`;

/** Several `node` lookups in one request (`n0`, `n1`, …): one DataLoader batch mixing the caller's ids and others'. */
export function nodesQuery(count: number): string {
  const indices = Array.from({ length: count }, (_, i) => i);
  return /* GraphQL */ `
  query FuzzNodes(${indices.map((i) => `$n${i}: ID!`).join(', ')}) {
    ${indices.map((i) => `n${i}: node(id: $n${i}) { ...FuzzNodeFields }`).join('\n    ')}
  }
  ${NODE_FIELDS}`;
}
export type NodeResult =
  | { __typename: 'Tenant'; id: string; name: string }
  | { __typename: 'User'; id: string; email: string; displayName: string; role: Role }
  | { __typename: 'Conversation'; id: string; title: string; archived: boolean; createdAt: string; messageCount: number }
  | { __typename: 'Message'; id: string; body: string; createdAt: string; author: { id: string }; conversation: { id: string } };
export interface NodeData {
  node: NodeResult | null;
}

export interface ConversationListNode {
  id: string;
  title: string;
  archived: boolean;
  createdAt: string;
  messageCount: number;
  createdBy: UserRef;
}

export const CONVERSATIONS = /* GraphQL */ `
  query FuzzConversations($first: Int, $after: String, $last: Int, $before: String, $filter: ConversationFilter) {
    conversations(first: $first, after: $after, last: $last, before: $before, filter: $filter) {
      totalCount
      pageInfo {
        hasNextPage
        hasPreviousPage
        startCursor
        endCursor
      }
      edges {
        cursor
        node {
          id
          title
          archived
          createdAt
          messageCount
          createdBy {
            id
            displayName
          }
        }
      }
    }
  }
`;
export interface ConversationsData {
  conversations: { totalCount: number; pageInfo: PageInfo; edges: { cursor: string; node: ConversationListNode }[] };
}

export interface MessageEdgeNode {
  id: string;
  body: string;
  createdAt: string;
  author: UserRef;
  conversation: { id: string };
}

export const CONVERSATION = /* GraphQL */ `
  query FuzzConversation($id: ID!, $first: Int, $after: String, $last: Int, $before: String) {
    conversation(id: $id) {
      id
      title
      archived
      createdAt
      messageCount
      createdBy {
        id
        displayName
      }
      lastMessage {
        id
        body
        createdAt
      }
      messages(first: $first, after: $after, last: $last, before: $before) {
        totalCount
        pageInfo {
          hasNextPage
          hasPreviousPage
          startCursor
          endCursor
        }
        edges {
          cursor
          node {
            id
            body
            createdAt
            author {
              id
              displayName
            }
            conversation {
              id
            }
          }
        }
      }
    }
  }
`;
export interface ConversationData {
  conversation:
    | (ConversationListNode & {
        lastMessage: { id: string; body: string; createdAt: string } | null;
        messages: { totalCount: number; pageInfo: PageInfo; edges: { cursor: string; node: MessageEdgeNode }[] };
      })
    | null;
}

export const DASHBOARD = /* GraphQL */ `
  query FuzzDashboard($first: Int, $messages: Int) {
    conversations(first: $first, filter: { archived: false }) {
      nodes {
        id
        title
        messageCount
        lastMessage {
          id
          body
          author {
            id
            displayName
          }
        }
        messages(first: $messages) {
          nodes {
            id
            body
            author {
              id
              displayName
            }
          }
        }
      }
    }
  }
`;
export interface DashboardMessage {
  id: string;
  body: string;
  author: UserRef;
}
export interface DashboardData {
  conversations: {
    nodes: {
      id: string;
      title: string;
      messageCount: number;
      lastMessage: DashboardMessage | null;
      messages: { nodes: DashboardMessage[] };
    }[];
  };
}

export const USERS = /* GraphQL */ `
  query FuzzUsers($first: Int, $after: String, $last: Int, $before: String) {
    users(first: $first, after: $after, last: $last, before: $before) {
      totalCount
      pageInfo {
        hasNextPage
        hasPreviousPage
        startCursor
        endCursor
      }
      edges {
        cursor
        node {
          id
          email
          displayName
          role
        }
      }
    }
  }
`;
export interface UsersData {
  users: {
    totalCount: number;
    pageInfo: PageInfo;
    edges: { cursor: string; node: { id: string; email: string; displayName: string; role: Role } }[];
  };
}

export const AUDIT_EVENTS = /* GraphQL */ `
  query FuzzAuditEvents($first: Int, $after: String, $filter: AuditEventFilter) {
    auditEvents(first: $first, after: $after, filter: $filter) {
      pageInfo {
        hasNextPage
        endCursor
      }
      edges {
        cursor
        node {
          id
          occurredAt
          userId
          user {
            id
            email
            displayName
          }
          requestId
          source
          operationType
          operationName
          outcome
          durationMs
        }
      }
    }
  }
`;
export interface AuditEventNode {
  id: string;
  occurredAt: string;
  userId: string | null;
  user: { id: string; email: string; displayName: string } | null;
  requestId: string;
  source: string;
  operationType: string | null;
  operationName: string | null;
  outcome: string;
  durationMs: number;
}
export interface AuditEventsData {
  auditEvents: { pageInfo: PageInfo; edges: { cursor: string; node: AuditEventNode }[] };
}

export const CREATE_CONVERSATION = /* GraphQL */ `
  mutation FuzzCreateConversation($input: CreateConversationInput!) {
    createConversation(input: $input) {
      conversation {
        id
        title
        archived
        createdAt
        messageCount
        createdBy {
          id
          displayName
        }
        lastMessage {
          id
        }
      }
    }
  }
`;
export interface CreateConversationData {
  createConversation: { conversation: ConversationListNode & { lastMessage: { id: string } | null } };
}

export const RENAME_CONVERSATION = /* GraphQL */ `
  mutation FuzzRenameConversation($input: RenameConversationInput!) {
    renameConversation(input: $input) {
      conversation {
        id
        title
      }
    }
  }
`;
export interface RenameConversationData {
  renameConversation: { conversation: { id: string; title: string } };
}

export const ARCHIVE_CONVERSATION = /* GraphQL */ `
  mutation FuzzArchiveConversation($input: ArchiveConversationInput!) {
    archiveConversation(input: $input) {
      conversation {
        id
        archived
      }
    }
  }
`;
export interface ArchiveConversationData {
  archiveConversation: { conversation: { id: string; archived: boolean } };
}

export const POST_MESSAGE = /* GraphQL */ `
  mutation FuzzPostMessage($input: PostMessageInput!) {
    postMessage(input: $input) {
      message {
        id
        body
        createdAt
        author {
          id
          displayName
        }
        conversation {
          id
          messageCount
        }
      }
    }
  }
`;
export interface PostMessageData {
  postMessage: {
    message: { id: string; body: string; createdAt: string; author: UserRef; conversation: { id: string; messageCount: number } };
  };
}

export const INVITE_USER = /* GraphQL */ `
  mutation FuzzInviteUser($input: InviteUserInput!) {
    inviteUser(input: $input) {
      user {
        id
        email
        displayName
        role
      }
    }
  }
`;
export interface InviteUserData {
  inviteUser: { user: { id: string; email: string; displayName: string; role: Role } };
}

/** Sent over graphql-ws by the fuzzer's subscribers (subscribers.ts), never over HTTP. */
export const MESSAGE_POSTED = /* GraphQL */ `
  subscription FuzzMessagePosted($conversationId: ID!, $after: String) {
    messagePosted(conversationId: $conversationId, after: $after) {
      cursor
      message {
        id
        body
        createdAt
        author {
          id
          displayName
          email
        }
        conversation {
          id
          title
          messageCount
        }
      }
    }
  }
`;
export interface MessagePostedData {
  messagePosted: { cursor: string; message: { id: string; body: string; author: UserRef; conversation: { id: string; title: string } } };
}

export const CONVERSATION_CHANGED = /* GraphQL */ `
  subscription FuzzConversationChanged($after: String) {
    conversationChanged(after: $after) {
      cursor
      kind
      conversationId
      conversation {
        id
        title
        archived
        messageCount
      }
    }
  }
`;
export interface ConversationChangedData {
  conversationChanged: {
    cursor: string;
    kind: 'CREATED' | 'RENAMED' | 'ARCHIVED';
    conversationId: string;
    conversation: { id: string; title: string } | null;
  };
}
