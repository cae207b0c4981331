import type { GraphQLResolveInfo, GraphQLScalarType, GraphQLScalarTypeConfig } from 'graphql';
import type { AuditEventRow } from '../modules/audit/rows.js';
import type { Connection, Edge } from '../graphql/connection.js';
import type { ConversationRow } from '../modules/conversations/rows.js';
import type { TenantRow, UserRow, ViewerParent } from '../modules/directory/rows.js';
import type { MessageRow } from '../modules/messages/rows.js';
import type { MessagePostedEventParent, ConversationChangedEventParent } from '../modules/realtime/rows.js';
import type { RequestContext } from '../graphql/request-context.js';
export type Maybe<T> = T | null;
export type InputMaybe<T> = T | null | undefined;
export type Omit<T, K extends keyof T> = Pick<T, Exclude<keyof T, K>>;
export type RequireFields<T, K extends keyof T> = Omit<T, K> & { [P in K]-?: NonNullable<T[P]> };
/** All built-in and custom scalars, mapped to their actual values */
export type Scalars = {
  ID: { input: string; output: string; }
  String: { input: string; output: string; }
  Boolean: { input: boolean; output: boolean; }
  Int: { input: number; output: number; }
  Float: { input: number; output: number; }
  /** An instant in time: an RFC 3339 date-time with a time zone on input (e.g. `2024-05-01T14:00:00+02:00`); outputs are ISO 8601 strings in UTC. */
  DateTime: { input: string; output: string; }
};

/** What `archiveConversation` needs. */
export type ArchiveConversationInput = {
  /** The global id of the conversation to archive. */
  id: Scalars['ID']['input'];
};

/** The result of `archiveConversation`. */
export type ArchiveConversationPayload = {
  __typename?: 'ArchiveConversationPayload';
  /** The conversation, now archived. */
  conversation: Conversation;
};

/** One switch into this tenant's context: a request that opened a transaction, or an operator's CLI session. */
export type AuditEvent = {
  __typename?: 'AuditEvent';
  /** For LIFECYCLE events: what the operator wrote (a suspension's reason) or the role a member joined with; null otherwise. */
  detail: Maybe<Scalars['String']['output']>;
  /** How long the context switch lasted, in whole milliseconds (0 or more). For a subscription's end: how long it was subscribed. */
  durationMs: Scalars['Int']['output'];
  /** Subscriptions only: the events delivered, on the event written when the subscription ended; null on the one written when it started, and for every other operation. */
  eventsDelivered: Maybe<Scalars['Int']['output']>;
  /** Opaque id of the event. */
  id: Scalars['ID']['output'];
  /** When the context switch began. */
  occurredAt: Scalars['DateTime']['output'];
  /** The GraphQL operation name, when the client gave one. */
  operationName: Maybe<Scalars['String']['output']>;
  /** The kind of work; null when the request ended before its operation was known (for example, a refused context). */
  operationType: Maybe<AuditOperationType>;
  /** How the context switch ended. */
  outcome: AuditOutcome;
  /** The request id (x-request-id), for finding the request's log lines. */
  requestId: Scalars['String']['output'];
  /** Where the switch came from: API or CLI. */
  source: Scalars['String']['output'];
  /** The member who acted, or null when the id is not (or no longer) a member. */
  user: Maybe<User>;
  /** Global id of the user the token named (a User id, even if that user is gone). */
  userId: Maybe<Scalars['ID']['output']>;
};

/** One page of audit events. */
export type AuditEventConnection = {
  __typename?: 'AuditEventConnection';
  /** The page's audit events, each with its cursor, in the list's order. */
  edges: Array<AuditEventEdge>;
  /** The page's audit events without cursors, in the list's order (the same items as `edges`). */
  nodes: Array<AuditEvent>;
  /** Where this page starts and ends, and whether more pages follow or precede it. */
  pageInfo: PageInfo;
};

/** An audit event with the cursor of its position in the list. */
export type AuditEventEdge = {
  __typename?: 'AuditEventEdge';
  /** Opaque cursor of this item: pass it as `after` or `before` to page from here. */
  cursor: Scalars['String']['output'];
  /** The audit event. */
  node: AuditEvent;
};

/** Narrows `Query.auditEvents`. */
export type AuditEventFilter = {
  /** Only events of this kind of work. */
  operationType?: InputMaybe<AuditOperationType>;
  /** Only events at or after this instant. */
  since?: InputMaybe<Scalars['DateTime']['input']>;
  /** Only events of this user (a User id). */
  userId?: InputMaybe<Scalars['ID']['input']>;
};

/** The kind of work done in a context switch. */
export type AuditOperationType =
  /** A change of the tenant's lifecycle or membership outside a GraphQL operation: a suspension, a resumption (CLI), a member who joined just in time from a verified token. */
  | 'LIFECYCLE'
  /** A GraphQL mutation. */
  | 'MUTATION'
  /** A GraphQL query. */
  | 'QUERY'
  /** An operator's SQL session from the command line. */
  | 'SQL'
  /** A GraphQL subscription. */
  | 'SUBSCRIPTION';

/** How a tenant context switch ended. */
export type AuditOutcome =
  /** The transaction committed: the request's writes, if any, are stored. */
  | 'COMMITTED'
  /** The context was refused (for example, the token's user is no longer a member). */
  | 'REJECTED'
  /** The transaction was rolled back (an error, a refused commit or a client that went away): nothing it wrote is stored. */
  | 'ROLLED_BACK';

/** A thread of messages inside a tenant. */
export type Conversation = Node & {
  __typename?: 'Conversation';
  /** Archived conversations stay readable but are hidden by `archived: false` filters. */
  archived: Scalars['Boolean']['output'];
  /** When the conversation was created. */
  createdAt: Scalars['DateTime']['output'];
  /** The member who created the conversation. */
  createdBy: User;
  /** Opaque global id of the conversation. */
  id: Scalars['ID']['output'];
  /** The newest message, or null when there is none. */
  lastMessage: Maybe<Message>;
  /** Number of messages in the conversation. */
  messageCount: Scalars['Int']['output'];
  /** Messages, newest first. Pages forward (older) with `first`/`after`, backward (newer: a chat view's "load newer") with `last`/`before`. */
  messages: MessageConnection;
  /** The conversation's title, 1 to 200 characters. */
  title: Scalars['String']['output'];
};


/** A thread of messages inside a tenant. */
export type ConversationMessagesArgs = {
  after?: InputMaybe<Scalars['String']['input']>;
  before?: InputMaybe<Scalars['String']['input']>;
  first?: InputMaybe<Scalars['Int']['input']>;
  last?: InputMaybe<Scalars['Int']['input']>;
};

/** What happened to a conversation. */
export type ConversationChangeKind =
  /** The conversation was archived. */
  | 'ARCHIVED'
  /** The conversation was created. */
  | 'CREATED'
  /** The conversation's title changed. */
  | 'RENAMED';

/** A conversation was created, renamed or archived. */
export type ConversationChangedEvent = {
  __typename?: 'ConversationChangedEvent';
  /** The conversation as it is when the event is delivered (a replayed RENAMED shows the current title); null if it is gone. */
  conversation: Maybe<Conversation>;
  /** The conversation's global id (also when the conversation itself is no longer readable). */
  conversationId: Scalars['ID']['output'];
  /** Opaque position of this event in your tenant's event stream: pass it as `after` to resume from here. */
  cursor: Scalars['String']['output'];
  /** What happened. */
  kind: ConversationChangeKind;
};

/** One page of conversations. */
export type ConversationConnection = {
  __typename?: 'ConversationConnection';
  /** The page's conversations, each with its cursor, in the list's order. */
  edges: Array<ConversationEdge>;
  /** The page's conversations without cursors, in the list's order (the same items as `edges`). */
  nodes: Array<Conversation>;
  /** Where this page starts and ends, and whether more pages follow or precede it. */
  pageInfo: PageInfo;
  /** Number of conversations matching the filter. */
  totalCount: Scalars['Int']['output'];
};

/** A conversation with the cursor of its position in the list. */
export type ConversationEdge = {
  __typename?: 'ConversationEdge';
  /** Opaque cursor of this item: pass it as `after` or `before` to page from here. */
  cursor: Scalars['String']['output'];
  /** The conversation. */
  node: Conversation;
};

/** Narrows `Query.conversations`. */
export type ConversationFilter = {
  /** Only archived (true) or only active (false) conversations. */
  archived?: InputMaybe<Scalars['Boolean']['input']>;
  /** Case-insensitive substring of the title. */
  titleContains?: InputMaybe<Scalars['String']['input']>;
};

/** What `createConversation` needs. */
export type CreateConversationInput = {
  /** 1 to 200 characters. */
  title: Scalars['String']['input'];
};

/** The result of `createConversation`. */
export type CreateConversationPayload = {
  __typename?: 'CreateConversationPayload';
  /** The new conversation. */
  conversation: Conversation;
};

/** What `inviteUser` needs. */
export type InviteUserInput = {
  /** Name shown to other members. */
  displayName: Scalars['String']['input'];
  /** Email of the new member; must not already be a member of this tenant. */
  email: Scalars['String']['input'];
  /** Defaults to MEMBER. */
  role?: InputMaybe<UserRole>;
};

/** The result of `inviteUser`. */
export type InviteUserPayload = {
  __typename?: 'InviteUserPayload';
  /** The new member. */
  user: User;
};

/** A message posted to a conversation. */
export type Message = Node & {
  __typename?: 'Message';
  /** The member who posted the message. */
  author: User;
  /** 1 to 10,000 characters. */
  body: Scalars['String']['output'];
  /** The conversation the message belongs to. */
  conversation: Conversation;
  /** When the message was posted. */
  createdAt: Scalars['DateTime']['output'];
  /** Opaque global id of the message. */
  id: Scalars['ID']['output'];
};

/** One page of messages. */
export type MessageConnection = {
  __typename?: 'MessageConnection';
  /** The page's messages, each with its cursor, in the list's order. */
  edges: Array<MessageEdge>;
  /** The page's messages without cursors, in the list's order (the same items as `edges`). */
  nodes: Array<Message>;
  /** Where this page starts and ends, and whether more pages follow or precede it. */
  pageInfo: PageInfo;
  /** Number of messages in the conversation. */
  totalCount: Scalars['Int']['output'];
};

/** A message with the cursor of its position in the list. */
export type MessageEdge = {
  __typename?: 'MessageEdge';
  /** Opaque cursor of this item: pass it as `after` or `before` to page from here. */
  cursor: Scalars['String']['output'];
  /** The message. */
  node: Message;
};

/** A message was posted. */
export type MessagePostedEvent = {
  __typename?: 'MessagePostedEvent';
  /** Opaque position of this event in your tenant's event stream: pass it as `after` to resume from here. */
  cursor: Scalars['String']['output'];
  /** The message, as `Query.node` would return it now. */
  message: Message;
};

/** Write operations. Each request is one all-or-nothing transaction. */
export type Mutation = {
  __typename?: 'Mutation';
  /** Archives a conversation. NOT_FOUND when the id is unknown to the caller's tenant. */
  archiveConversation: ArchiveConversationPayload;
  /** Starts a conversation created by the caller. */
  createConversation: CreateConversationPayload;
  /** Adds a member to the caller's tenant. Only ADMINs may invite (FORBIDDEN otherwise). */
  inviteUser: InviteUserPayload;
  /** Posts a message as the caller. NOT_FOUND when the conversation is unknown to the caller's tenant. */
  postMessage: PostMessagePayload;
  /** Changes a conversation's title. NOT_FOUND when the id is unknown to the caller's tenant. */
  renameConversation: RenameConversationPayload;
};


/** Write operations. Each request is one all-or-nothing transaction. */
export type MutationArchiveConversationArgs = {
  input: ArchiveConversationInput;
};


/** Write operations. Each request is one all-or-nothing transaction. */
export type MutationCreateConversationArgs = {
  input: CreateConversationInput;
};


/** Write operations. Each request is one all-or-nothing transaction. */
export type MutationInviteUserArgs = {
  input: InviteUserInput;
};


/** Write operations. Each request is one all-or-nothing transaction. */
export type MutationPostMessageArgs = {
  input: PostMessageInput;
};


/** Write operations. Each request is one all-or-nothing transaction. */
export type MutationRenameConversationArgs = {
  input: RenameConversationInput;
};

/** An object with a globally unique, opaque id that `Query.node` resolves. */
export type Node = {
  /** Opaque global id. Ids of another tenant's objects resolve to nothing. */
  id: Scalars['ID']['output'];
};

/**
 * Where a page of a connection starts and ends, for keyset (cursor) pagination both ways. The flag of the
 * direction a page was fetched in is exact; the other one is true exactly when a cursor was given (the item it
 * came from lies on that side), as the Relay connection specification allows.
 */
export type PageInfo = {
  __typename?: 'PageInfo';
  /** Pass as `after` (with `first`) to fetch the next page; null on an empty page. */
  endCursor: Maybe<Scalars['String']['output']>;
  /** Whether items follow this page: exact for `first`; for `last`, whether `before` was given. */
  hasNextPage: Scalars['Boolean']['output'];
  /** Whether items precede this page: exact for `last`; for `first`, whether `after` was given. */
  hasPreviousPage: Scalars['Boolean']['output'];
  /** Pass as `before` (with `last`) to fetch the page before this one; null on an empty page. */
  startCursor: Maybe<Scalars['String']['output']>;
};

/** What `postMessage` needs. */
export type PostMessageInput = {
  /** 1 to 10,000 characters. */
  body: Scalars['String']['input'];
  /** The global id of the conversation to post to. */
  conversationId: Scalars['ID']['input'];
};

/** The result of `postMessage`. */
export type PostMessagePayload = {
  __typename?: 'PostMessagePayload';
  /** The new message. */
  message: Message;
};

/** Read operations. Every field sees only the caller's tenant. */
export type Query = {
  __typename?: 'Query';
  /** The tenant's audit trail, newest first. ADMINs only (FORBIDDEN for members). Pages forward with `first`/`after` or backward with `last`/`before`. */
  auditEvents: AuditEventConnection;
  /** One conversation; null when it does not exist or belongs to another tenant. */
  conversation: Maybe<Conversation>;
  /** Conversations of the caller's tenant, newest first. Pages forward with `first`/`after` or backward with `last`/`before`. */
  conversations: ConversationConnection;
  /** Fetches any object by its global id; null when it does not exist or belongs to another tenant. */
  node: Maybe<Node>;
  /** Members of the caller's tenant, oldest first. Pages forward with `first`/`after` or backward with `last`/`before`. */
  users: UserConnection;
  /** The caller and their tenant. */
  viewer: Viewer;
};


/** Read operations. Every field sees only the caller's tenant. */
export type QueryAuditEventsArgs = {
  after?: InputMaybe<Scalars['String']['input']>;
  before?: InputMaybe<Scalars['String']['input']>;
  filter?: InputMaybe<AuditEventFilter>;
  first?: InputMaybe<Scalars['Int']['input']>;
  last?: InputMaybe<Scalars['Int']['input']>;
};


/** Read operations. Every field sees only the caller's tenant. */
export type QueryConversationArgs = {
  id: Scalars['ID']['input'];
};


/** Read operations. Every field sees only the caller's tenant. */
export type QueryConversationsArgs = {
  after?: InputMaybe<Scalars['String']['input']>;
  before?: InputMaybe<Scalars['String']['input']>;
  filter?: InputMaybe<ConversationFilter>;
  first?: InputMaybe<Scalars['Int']['input']>;
  last?: InputMaybe<Scalars['Int']['input']>;
};


/** Read operations. Every field sees only the caller's tenant. */
export type QueryNodeArgs = {
  id: Scalars['ID']['input'];
};


/** Read operations. Every field sees only the caller's tenant. */
export type QueryUsersArgs = {
  after?: InputMaybe<Scalars['String']['input']>;
  before?: InputMaybe<Scalars['String']['input']>;
  first?: InputMaybe<Scalars['Int']['input']>;
  last?: InputMaybe<Scalars['Int']['input']>;
};

/** What `renameConversation` needs. */
export type RenameConversationInput = {
  /** The global id of the conversation to rename. */
  id: Scalars['ID']['input'];
  /** 1 to 200 characters. */
  title: Scalars['String']['input'];
};

/** The result of `renameConversation`. */
export type RenameConversationPayload = {
  __typename?: 'RenameConversationPayload';
  /** The conversation with its new title. */
  conversation: Conversation;
};

/**
 * Live events, over WebSocket (graphql-ws protocol) at the same `/graphql` path. Authenticate in `connection_init`
 * with `{ "Authorization": "Bearer <token>" }`. Every event carries an opaque `cursor`; subscribe again with
 * `after: <cursor>` to receive, first, every event you missed (within the retention window) and then live ones,
 * with no gap and no duplicate. A cursor past retention is refused with CURSOR_EXPIRED: refetch, then subscribe
 * without `after`.
 */
export type Subscription = {
  __typename?: 'Subscription';
  /** Conversations of your tenant created, renamed or archived. */
  conversationChanged: ConversationChangedEvent;
  /** New messages in one conversation of your tenant. NOT_FOUND when the conversation does not exist in your tenant. */
  messagePosted: MessagePostedEvent;
};


/**
 * Live events, over WebSocket (graphql-ws protocol) at the same `/graphql` path. Authenticate in `connection_init`
 * with `{ "Authorization": "Bearer <token>" }`. Every event carries an opaque `cursor`; subscribe again with
 * `after: <cursor>` to receive, first, every event you missed (within the retention window) and then live ones,
 * with no gap and no duplicate. A cursor past retention is refused with CURSOR_EXPIRED: refetch, then subscribe
 * without `after`.
 */
export type SubscriptionConversationChangedArgs = {
  after?: InputMaybe<Scalars['String']['input']>;
};


/**
 * Live events, over WebSocket (graphql-ws protocol) at the same `/graphql` path. Authenticate in `connection_init`
 * with `{ "Authorization": "Bearer <token>" }`. Every event carries an opaque `cursor`; subscribe again with
 * `after: <cursor>` to receive, first, every event you missed (within the retention window) and then live ones,
 * with no gap and no duplicate. A cursor past retention is refused with CURSOR_EXPIRED: refetch, then subscribe
 * without `after`.
 */
export type SubscriptionMessagePostedArgs = {
  after?: InputMaybe<Scalars['String']['input']>;
  conversationId: Scalars['ID']['input'];
};

/** An organisation. All data belongs to exactly one tenant. */
export type Tenant = Node & {
  __typename?: 'Tenant';
  /** Opaque global id of the tenant. */
  id: Scalars['ID']['output'];
  /** Display name of the tenant. */
  name: Scalars['String']['output'];
};

/** A member of a tenant. */
export type User = Node & {
  __typename?: 'User';
  /** Name shown to other members. */
  displayName: Scalars['String']['output'];
  /** Email address, unique within the tenant. */
  email: Scalars['String']['output'];
  /** Opaque global id of the user. */
  id: Scalars['ID']['output'];
  /** What the member may do in the tenant. */
  role: UserRole;
};

/** One page of members. */
export type UserConnection = {
  __typename?: 'UserConnection';
  /** The page's members, each with its cursor, in the list's order. */
  edges: Array<UserEdge>;
  /** The page's members without cursors, in the list's order (the same items as `edges`). */
  nodes: Array<User>;
  /** Where this page starts and ends, and whether more pages follow or precede it. */
  pageInfo: PageInfo;
  /** Number of members of the tenant. */
  totalCount: Scalars['Int']['output'];
};

/** A member with the cursor of its position in the list. */
export type UserEdge = {
  __typename?: 'UserEdge';
  /** Opaque cursor of this item: pass it as `after` or `before` to page from here. */
  cursor: Scalars['String']['output'];
  /** The member. */
  node: User;
};

/** A member's role inside their tenant. */
export type UserRole =
  /** May invite users. */
  | 'ADMIN'
  /** May read and write conversations. */
  | 'MEMBER';

/** The caller: the user the token speaks for and their tenant. */
export type Viewer = {
  __typename?: 'Viewer';
  /** The tenant the token speaks for: every field of the request sees only its data. */
  tenant: Tenant;
  /** The user the token speaks for. */
  user: User;
};



export type ResolverTypeWrapper<T> = Promise<T> | T;


export type ResolverWithResolve<TResult, TParent, TContext, TArgs> = {
  resolve: ResolverFn<TResult, TParent, TContext, TArgs>;
};
export type Resolver<TResult, TParent = Record<PropertyKey, never>, TContext = Record<PropertyKey, never>, TArgs = Record<PropertyKey, never>> = ResolverFn<TResult, TParent, TContext, TArgs> | ResolverWithResolve<TResult, TParent, TContext, TArgs>;

export type ResolverFn<TResult, TParent, TContext, TArgs> = (
  parent: TParent,
  args: TArgs,
  context: TContext,
  info: GraphQLResolveInfo
) => Promise<TResult> | TResult;

export type SubscriptionSubscribeFn<TResult, TParent, TContext, TArgs> = (
  parent: TParent,
  args: TArgs,
  context: TContext,
  info: GraphQLResolveInfo
) => AsyncIterable<TResult> | Promise<AsyncIterable<TResult>>;

export type SubscriptionResolveFn<TResult, TParent, TContext, TArgs> = (
  parent: TParent,
  args: TArgs,
  context: TContext,
  info: GraphQLResolveInfo
) => TResult | Promise<TResult>;

export interface SubscriptionSubscriberObject<TResult, TKey extends string, TParent, TContext, TArgs> {
  subscribe: SubscriptionSubscribeFn<{ [key in TKey]: TResult }, TParent, TContext, TArgs>;
  resolve?: SubscriptionResolveFn<TResult, { [key in TKey]: TResult }, TContext, TArgs>;
}

export interface SubscriptionResolverObject<TResult, TParent, TContext, TArgs> {
  subscribe: SubscriptionSubscribeFn<any, TParent, TContext, TArgs>;
  resolve: SubscriptionResolveFn<TResult, any, TContext, TArgs>;
}

export type SubscriptionObject<TResult, TKey extends string, TParent, TContext, TArgs> =
  | SubscriptionSubscriberObject<TResult, TKey, TParent, TContext, TArgs>
  | SubscriptionResolverObject<TResult, TParent, TContext, TArgs>;

export type SubscriptionResolver<TResult, TKey extends string, TParent = Record<PropertyKey, never>, TContext = Record<PropertyKey, never>, TArgs = Record<PropertyKey, never>> =
  | ((...args: any[]) => SubscriptionObject<TResult, TKey, TParent, TContext, TArgs>)
  | SubscriptionObject<TResult, TKey, TParent, TContext, TArgs>;

export type TypeResolveFn<TTypes, TParent = Record<PropertyKey, never>, TContext = Record<PropertyKey, never>> = (
  parent: TParent,
  context: TContext,
  info: GraphQLResolveInfo
) => Maybe<TTypes> | Promise<Maybe<TTypes>>;

export type IsTypeOfResolverFn<T = Record<PropertyKey, never>, TContext = Record<PropertyKey, never>> = (obj: T, context: TContext, info: GraphQLResolveInfo) => boolean | Promise<boolean>;

export type NextResolverFn<T> = () => Promise<T>;

export type DirectiveResolverFn<TResult = Record<PropertyKey, never>, TParent = Record<PropertyKey, never>, TContext = Record<PropertyKey, never>, TArgs = Record<PropertyKey, never>> = (
  next: NextResolverFn<TResult>,
  parent: TParent,
  args: TArgs,
  context: TContext,
  info: GraphQLResolveInfo
) => TResult | Promise<TResult>;




/** Mapping of interface types */
export type ResolversInterfaceTypes<_RefType extends Record<string, unknown>> = {
  Node:
    | ( ConversationRow )
    | ( MessageRow )
    | ( TenantRow )
    | ( UserRow )
  ;
};

/** Mapping between all available schema types and the resolvers types */
export type ResolversTypes = {
  ArchiveConversationInput: ArchiveConversationInput;
  ArchiveConversationPayload: ResolverTypeWrapper<Omit<ArchiveConversationPayload, 'conversation'> & { conversation: ResolversTypes['Conversation'] }>;
  AuditEvent: ResolverTypeWrapper<AuditEventRow>;
  AuditEventConnection: ResolverTypeWrapper<Connection<AuditEventRow>>;
  AuditEventEdge: ResolverTypeWrapper<Edge<AuditEventRow>>;
  AuditEventFilter: AuditEventFilter;
  AuditOperationType: AuditOperationType;
  AuditOutcome: AuditOutcome;
  Boolean: ResolverTypeWrapper<Scalars['Boolean']['output']>;
  Conversation: ResolverTypeWrapper<ConversationRow>;
  ConversationChangeKind: ConversationChangeKind;
  ConversationChangedEvent: ResolverTypeWrapper<ConversationChangedEventParent>;
  ConversationConnection: ResolverTypeWrapper<Connection<ConversationRow>>;
  ConversationEdge: ResolverTypeWrapper<Edge<ConversationRow>>;
  ConversationFilter: ConversationFilter;
  CreateConversationInput: CreateConversationInput;
  CreateConversationPayload: ResolverTypeWrapper<Omit<CreateConversationPayload, 'conversation'> & { conversation: ResolversTypes['Conversation'] }>;
  DateTime: ResolverTypeWrapper<Scalars['DateTime']['output']>;
  ID: ResolverTypeWrapper<Scalars['ID']['output']>;
  Int: ResolverTypeWrapper<Scalars['Int']['output']>;
  InviteUserInput: InviteUserInput;
  InviteUserPayload: ResolverTypeWrapper<Omit<InviteUserPayload, 'user'> & { user: ResolversTypes['User'] }>;
  Message: ResolverTypeWrapper<MessageRow>;
  MessageConnection: ResolverTypeWrapper<Connection<MessageRow>>;
  MessageEdge: ResolverTypeWrapper<Edge<MessageRow>>;
  MessagePostedEvent: ResolverTypeWrapper<MessagePostedEventParent>;
  Mutation: ResolverTypeWrapper<Record<PropertyKey, never>>;
  Node: ResolverTypeWrapper<ResolversInterfaceTypes<ResolversTypes>['Node']>;
  PageInfo: ResolverTypeWrapper<PageInfo>;
  PostMessageInput: PostMessageInput;
  PostMessagePayload: ResolverTypeWrapper<Omit<PostMessagePayload, 'message'> & { message: ResolversTypes['Message'] }>;
  Query: ResolverTypeWrapper<Record<PropertyKey, never>>;
  RenameConversationInput: RenameConversationInput;
  RenameConversationPayload: ResolverTypeWrapper<Omit<RenameConversationPayload, 'conversation'> & { conversation: ResolversTypes['Conversation'] }>;
  String: ResolverTypeWrapper<Scalars['String']['output']>;
  Subscription: ResolverTypeWrapper<Record<PropertyKey, never>>;
  Tenant: ResolverTypeWrapper<TenantRow>;
  User: ResolverTypeWrapper<UserRow>;
  UserConnection: ResolverTypeWrapper<Connection<UserRow>>;
  UserEdge: ResolverTypeWrapper<Edge<UserRow>>;
  UserRole: UserRole;
  Viewer: ResolverTypeWrapper<ViewerParent>;
};

/** Mapping between all available schema types and the resolvers parents */
export type ResolversParentTypes = {
  ArchiveConversationInput: ArchiveConversationInput;
  ArchiveConversationPayload: Omit<ArchiveConversationPayload, 'conversation'> & { conversation: ResolversParentTypes['Conversation'] };
  AuditEvent: AuditEventRow;
  AuditEventConnection: Connection<AuditEventRow>;
  AuditEventEdge: Edge<AuditEventRow>;
  AuditEventFilter: AuditEventFilter;
  Boolean: Scalars['Boolean']['output'];
  Conversation: ConversationRow;
  ConversationChangedEvent: ConversationChangedEventParent;
  ConversationConnection: Connection<ConversationRow>;
  ConversationEdge: Edge<ConversationRow>;
  ConversationFilter: ConversationFilter;
  CreateConversationInput: CreateConversationInput;
  CreateConversationPayload: Omit<CreateConversationPayload, 'conversation'> & { conversation: ResolversParentTypes['Conversation'] };
  DateTime: Scalars['DateTime']['output'];
  ID: Scalars['ID']['output'];
  Int: Scalars['Int']['output'];
  InviteUserInput: InviteUserInput;
  InviteUserPayload: Omit<InviteUserPayload, 'user'> & { user: ResolversParentTypes['User'] };
  Message: MessageRow;
  MessageConnection: Connection<MessageRow>;
  MessageEdge: Edge<MessageRow>;
  MessagePostedEvent: MessagePostedEventParent;
  Mutation: Record<PropertyKey, never>;
  Node: ResolversInterfaceTypes<ResolversParentTypes>['Node'];
  PageInfo: PageInfo;
  PostMessageInput: PostMessageInput;
  PostMessagePayload: Omit<PostMessagePayload, 'message'> & { message: ResolversParentTypes['Message'] };
  Query: Record<PropertyKey, never>;
  RenameConversationInput: RenameConversationInput;
  RenameConversationPayload: Omit<RenameConversationPayload, 'conversation'> & { conversation: ResolversParentTypes['Conversation'] };
  String: Scalars['String']['output'];
  Subscription: Record<PropertyKey, never>;
  Tenant: TenantRow;
  User: UserRow;
  UserConnection: Connection<UserRow>;
  UserEdge: Edge<UserRow>;
  Viewer: ViewerParent;
};

export type ArchiveConversationPayloadResolvers<ContextType = RequestContext, ParentType extends ResolversParentTypes['ArchiveConversationPayload'] = ResolversParentTypes['ArchiveConversationPayload']> = {
  conversation?: Resolver<ResolversTypes['Conversation'], ParentType, ContextType>;
};

export type AuditEventResolvers<ContextType = RequestContext, ParentType extends ResolversParentTypes['AuditEvent'] = ResolversParentTypes['AuditEvent']> = {
  detail?: Resolver<Maybe<ResolversTypes['String']>, ParentType, ContextType>;
  durationMs?: Resolver<ResolversTypes['Int'], ParentType, ContextType>;
  eventsDelivered?: Resolver<Maybe<ResolversTypes['Int']>, ParentType, ContextType>;
  id?: Resolver<ResolversTypes['ID'], ParentType, ContextType>;
  occurredAt?: Resolver<ResolversTypes['DateTime'], ParentType, ContextType>;
  operationName?: Resolver<Maybe<ResolversTypes['String']>, ParentType, ContextType>;
  operationType?: Resolver<Maybe<ResolversTypes['AuditOperationType']>, ParentType, ContextType>;
  outcome?: Resolver<ResolversTypes['AuditOutcome'], ParentType, ContextType>;
  requestId?: Resolver<ResolversTypes['String'], ParentType, ContextType>;
  source?: Resolver<ResolversTypes['String'], ParentType, ContextType>;
  user?: Resolver<Maybe<ResolversTypes['User']>, ParentType, ContextType>;
  userId?: Resolver<Maybe<ResolversTypes['ID']>, ParentType, ContextType>;
};

export type AuditEventConnectionResolvers<ContextType = RequestContext, ParentType extends ResolversParentTypes['AuditEventConnection'] = ResolversParentTypes['AuditEventConnection']> = {
  edges?: Resolver<Array<ResolversTypes['AuditEventEdge']>, ParentType, ContextType>;
  nodes?: Resolver<Array<ResolversTypes['AuditEvent']>, ParentType, ContextType>;
  pageInfo?: Resolver<ResolversTypes['PageInfo'], ParentType, ContextType>;
};

export type AuditEventEdgeResolvers<ContextType = RequestContext, ParentType extends ResolversParentTypes['AuditEventEdge'] = ResolversParentTypes['AuditEventEdge']> = {
  cursor?: Resolver<ResolversTypes['String'], ParentType, ContextType>;
  node?: Resolver<ResolversTypes['AuditEvent'], ParentType, ContextType>;
};

export type ConversationResolvers<ContextType = RequestContext, ParentType extends ResolversParentTypes['Conversation'] = ResolversParentTypes['Conversation']> = {
  archived?: Resolver<ResolversTypes['Boolean'], ParentType, ContextType>;
  createdAt?: Resolver<ResolversTypes['DateTime'], ParentType, ContextType>;
  createdBy?: Resolver<ResolversTypes['User'], ParentType, ContextType>;
  id?: Resolver<ResolversTypes['ID'], ParentType, ContextType>;
  lastMessage?: Resolver<Maybe<ResolversTypes['Message']>, ParentType, ContextType>;
  messageCount?: Resolver<ResolversTypes['Int'], ParentType, ContextType>;
  messages?: Resolver<ResolversTypes['MessageConnection'], ParentType, ContextType, Partial<ConversationMessagesArgs>>;
  title?: Resolver<ResolversTypes['String'], ParentType, ContextType>;
  __isTypeOf?: IsTypeOfResolverFn<ParentType, ContextType>;
};

export type ConversationChangedEventResolvers<ContextType = RequestContext, ParentType extends ResolversParentTypes['ConversationChangedEvent'] = ResolversParentTypes['ConversationChangedEvent']> = {
  conversation?: Resolver<Maybe<ResolversTypes['Conversation']>, ParentType, ContextType>;
  conversationId?: Resolver<ResolversTypes['ID'], ParentType, ContextType>;
  cursor?: Resolver<ResolversTypes['String'], ParentType, ContextType>;
  kind?: Resolver<ResolversTypes['ConversationChangeKind'], ParentType, ContextType>;
};

export type ConversationConnectionResolvers<ContextType = RequestContext, ParentType extends ResolversParentTypes['ConversationConnection'] = ResolversParentTypes['ConversationConnection']> = {
  edges?: Resolver<Array<ResolversTypes['ConversationEdge']>, ParentType, ContextType>;
  nodes?: Resolver<Array<ResolversTypes['Conversation']>, ParentType, ContextType>;
  pageInfo?: Resolver<ResolversTypes['PageInfo'], ParentType, ContextType>;
  totalCount?: Resolver<ResolversTypes['Int'], ParentType, ContextType>;
};

export type ConversationEdgeResolvers<ContextType = RequestContext, ParentType extends ResolversParentTypes['ConversationEdge'] = ResolversParentTypes['ConversationEdge']> = {
  cursor?: Resolver<ResolversTypes['String'], ParentType, ContextType>;
  node?: Resolver<ResolversTypes['Conversation'], ParentType, ContextType>;
};

export type CreateConversationPayloadResolvers<ContextType = RequestContext, ParentType extends ResolversParentTypes['CreateConversationPayload'] = ResolversParentTypes['CreateConversationPayload']> = {
  conversation?: Resolver<ResolversTypes['Conversation'], ParentType, ContextType>;
};

export interface DateTimeScalarConfig extends GraphQLScalarTypeConfig<ResolversTypes['DateTime'], any> {
  name: 'DateTime';
}

export type InviteUserPayloadResolvers<ContextType = RequestContext, ParentType extends ResolversParentTypes['InviteUserPayload'] = ResolversParentTypes['InviteUserPayload']> = {
  user?: Resolver<ResolversTypes['User'], ParentType, ContextType>;
};

export type MessageResolvers<ContextType = RequestContext, ParentType extends ResolversParentTypes['Message'] = ResolversParentTypes['Message']> = {
  author?: Resolver<ResolversTypes['User'], ParentType, ContextType>;
  body?: Resolver<ResolversTypes['String'], ParentType, ContextType>;
  conversation?: Resolver<ResolversTypes['Conversation'], ParentType, ContextType>;
  createdAt?: Resolver<ResolversTypes['DateTime'], ParentType, ContextType>;
  id?: Resolver<ResolversTypes['ID'], ParentType, ContextType>;
  __isTypeOf?: IsTypeOfResolverFn<ParentType, ContextType>;
};

export type MessageConnectionResolvers<ContextType = RequestContext, ParentType extends ResolversParentTypes['MessageConnection'] = ResolversParentTypes['MessageConnection']> = {
  edges?: Resolver<Array<ResolversTypes['MessageEdge']>, ParentType, ContextType>;
  nodes?: Resolver<Array<ResolversTypes['Message']>, ParentType, ContextType>;
  pageInfo?: Resolver<ResolversTypes['PageInfo'], ParentType, ContextType>;
  totalCount?: Resolver<ResolversTypes['Int'], ParentType, ContextType>;
};

export type MessageEdgeResolvers<ContextType = RequestContext, ParentType extends ResolversParentTypes['MessageEdge'] = ResolversParentTypes['MessageEdge']> = {
  cursor?: Resolver<ResolversTypes['String'], ParentType, ContextType>;
  node?: Resolver<ResolversTypes['Message'], ParentType, ContextType>;
};

export type MessagePostedEventResolvers<ContextType = RequestContext, ParentType extends ResolversParentTypes['MessagePostedEvent'] = ResolversParentTypes['MessagePostedEvent']> = {
  cursor?: Resolver<ResolversTypes['String'], ParentType, ContextType>;
  message?: Resolver<ResolversTypes['Message'], ParentType, ContextType>;
};

export type MutationResolvers<ContextType = RequestContext, ParentType extends ResolversParentTypes['Mutation'] = ResolversParentTypes['Mutation']> = {
  archiveConversation?: Resolver<ResolversTypes['ArchiveConversationPayload'], ParentType, ContextType, RequireFields<MutationArchiveConversationArgs, 'input'>>;
  createConversation?: Resolver<ResolversTypes['CreateConversationPayload'], ParentType, ContextType, RequireFields<MutationCreateConversationArgs, 'input'>>;
  inviteUser?: Resolver<ResolversTypes['InviteUserPayload'], ParentType, ContextType, RequireFields<MutationInviteUserArgs, 'input'>>;
  postMessage?: Resolver<ResolversTypes['PostMessagePayload'], ParentType, ContextType, RequireFields<MutationPostMessageArgs, 'input'>>;
  renameConversation?: Resolver<ResolversTypes['RenameConversationPayload'], ParentType, ContextType, RequireFields<MutationRenameConversationArgs, 'input'>>;
};

export type NodeResolvers<ContextType = RequestContext, ParentType extends ResolversParentTypes['Node'] = ResolversParentTypes['Node']> = {
  __resolveType: TypeResolveFn<'Conversation' | 'Message' | 'Tenant' | 'User', ParentType, ContextType>;
};

export type PageInfoResolvers<ContextType = RequestContext, ParentType extends ResolversParentTypes['PageInfo'] = ResolversParentTypes['PageInfo']> = {
  endCursor?: Resolver<Maybe<ResolversTypes['String']>, ParentType, ContextType>;
  hasNextPage?: Resolver<ResolversTypes['Boolean'], ParentType, ContextType>;
  hasPreviousPage?: Resolver<ResolversTypes['Boolean'], ParentType, ContextType>;
  startCursor?: Resolver<Maybe<ResolversTypes['String']>, ParentType, ContextType>;
};

export type PostMessagePayloadResolvers<ContextType = RequestContext, ParentType extends ResolversParentTypes['PostMessagePayload'] = ResolversParentTypes['PostMessagePayload']> = {
  message?: Resolver<ResolversTypes['Message'], ParentType, ContextType>;
};

export type QueryResolvers<ContextType = RequestContext, ParentType extends ResolversParentTypes['Query'] = ResolversParentTypes['Query']> = {
  auditEvents?: Resolver<ResolversTypes['AuditEventConnection'], ParentType, ContextType, Partial<QueryAuditEventsArgs>>;
  conversation?: Resolver<Maybe<ResolversTypes['Conversation']>, ParentType, ContextType, RequireFields<QueryConversationArgs, 'id'>>;
  conversations?: Resolver<ResolversTypes['ConversationConnection'], ParentType, ContextType, Partial<QueryConversationsArgs>>;
  node?: Resolver<Maybe<ResolversTypes['Node']>, ParentType, ContextType, RequireFields<QueryNodeArgs, 'id'>>;
  users?: Resolver<ResolversTypes['UserConnection'], ParentType, ContextType, Partial<QueryUsersArgs>>;
  viewer?: Resolver<ResolversTypes['Viewer'], ParentType, ContextType>;
};

export type RenameConversationPayloadResolvers<ContextType = RequestContext, ParentType extends ResolversParentTypes['RenameConversationPayload'] = ResolversParentTypes['RenameConversationPayload']> = {
  conversation?: Resolver<ResolversTypes['Conversation'], ParentType, ContextType>;
};

export type SubscriptionResolvers<ContextType = RequestContext, ParentType extends ResolversParentTypes['Subscription'] = ResolversParentTypes['Subscription']> = {
  conversationChanged?: SubscriptionResolver<ResolversTypes['ConversationChangedEvent'], "conversationChanged", ParentType, ContextType, Partial<SubscriptionConversationChangedArgs>>;
  messagePosted?: SubscriptionResolver<ResolversTypes['MessagePostedEvent'], "messagePosted", ParentType, ContextType, RequireFields<SubscriptionMessagePostedArgs, 'conversationId'>>;
};

export type TenantResolvers<ContextType = RequestContext, ParentType extends ResolversParentTypes['Tenant'] = ResolversParentTypes['Tenant']> = {
  id?: Resolver<ResolversTypes['ID'], ParentType, ContextType>;
  name?: Resolver<ResolversTypes['String'], ParentType, ContextType>;
  __isTypeOf?: IsTypeOfResolverFn<ParentType, ContextType>;
};

export type UserResolvers<ContextType = RequestContext, ParentType extends ResolversParentTypes['User'] = ResolversParentTypes['User']> = {
  displayName?: Resolver<ResolversTypes['String'], ParentType, ContextType>;
  email?: Resolver<ResolversTypes['String'], ParentType, ContextType>;
  id?: Resolver<ResolversTypes['ID'], ParentType, ContextType>;
  role?: Resolver<ResolversTypes['UserRole'], ParentType, ContextType>;
  __isTypeOf?: IsTypeOfResolverFn<ParentType, ContextType>;
};

export type UserConnectionResolvers<ContextType = RequestContext, ParentType extends ResolversParentTypes['UserConnection'] = ResolversParentTypes['UserConnection']> = {
  edges?: Resolver<Array<ResolversTypes['UserEdge']>, ParentType, ContextType>;
  nodes?: Resolver<Array<ResolversTypes['User']>, ParentType, ContextType>;
  pageInfo?: Resolver<ResolversTypes['PageInfo'], ParentType, ContextType>;
  totalCount?: Resolver<ResolversTypes['Int'], ParentType, ContextType>;
};

export type UserEdgeResolvers<ContextType = RequestContext, ParentType extends ResolversParentTypes['UserEdge'] = ResolversParentTypes['UserEdge']> = {
  cursor?: Resolver<ResolversTypes['String'], ParentType, ContextType>;
  node?: Resolver<ResolversTypes['User'], ParentType, ContextType>;
};

export type ViewerResolvers<ContextType = RequestContext, ParentType extends ResolversParentTypes['Viewer'] = ResolversParentTypes['Viewer']> = {
  tenant?: Resolver<ResolversTypes['Tenant'], ParentType, ContextType>;
  user?: Resolver<ResolversTypes['User'], ParentType, ContextType>;
};

export type Resolvers<ContextType = RequestContext> = {
  ArchiveConversationPayload?: ArchiveConversationPayloadResolvers<ContextType>;
  AuditEvent?: AuditEventResolvers<ContextType>;
  AuditEventConnection?: AuditEventConnectionResolvers<ContextType>;
  AuditEventEdge?: AuditEventEdgeResolvers<ContextType>;
  Conversation?: ConversationResolvers<ContextType>;
  ConversationChangedEvent?: ConversationChangedEventResolvers<ContextType>;
  ConversationConnection?: ConversationConnectionResolvers<ContextType>;
  ConversationEdge?: ConversationEdgeResolvers<ContextType>;
  CreateConversationPayload?: CreateConversationPayloadResolvers<ContextType>;
  DateTime?: GraphQLScalarType;
  InviteUserPayload?: InviteUserPayloadResolvers<ContextType>;
  Message?: MessageResolvers<ContextType>;
  MessageConnection?: MessageConnectionResolvers<ContextType>;
  MessageEdge?: MessageEdgeResolvers<ContextType>;
  MessagePostedEvent?: MessagePostedEventResolvers<ContextType>;
  Mutation?: MutationResolvers<ContextType>;
  Node?: NodeResolvers<ContextType>;
  PageInfo?: PageInfoResolvers<ContextType>;
  PostMessagePayload?: PostMessagePayloadResolvers<ContextType>;
  Query?: QueryResolvers<ContextType>;
  RenameConversationPayload?: RenameConversationPayloadResolvers<ContextType>;
  Subscription?: SubscriptionResolvers<ContextType>;
  Tenant?: TenantResolvers<ContextType>;
  User?: UserResolvers<ContextType>;
  UserConnection?: UserConnectionResolvers<ContextType>;
  UserEdge?: UserEdgeResolvers<ContextType>;
  Viewer?: ViewerResolvers<ContextType>;
};

