import type { Role } from './documents.js';

/**
 * What each tenant should see, built only from what the API confirmed. Lists keep the server's order once a
 * full read has confirmed it; objects created in the latest wave of concurrent requests are `confirmed: false`
 * until then, because requests in flight together may commit in any order.
 */
export type EntityKind = 'Tenant' | 'User' | 'Conversation' | 'Message' | 'AuditEvent';

interface Entity {
  /** The global id the API returned. */
  id: string;
  /** The row's primary key inside it (a UUID), for the database check and the leak scan. */
  localId: string;
  /** Creation order within the run (by operation index, so it replays identically). */
  seq: number;
  /** The wave of concurrent requests that created it. */
  wave: number;
  /** Whether a full read has confirmed its place in its list. */
  confirmed: boolean;
  /** Its cursor, once a connection has returned one for it. */
  cursor: string | null;
}

export interface UserModel extends Entity {
  email: string;
  displayName: string;
  role: Role;
  token: string;
}

export interface MessageModel extends Entity {
  body: string;
  createdAt: string;
  authorId: string;
  conversationId: string;
}

export interface ConversationModel extends Entity {
  title: string;
  archived: boolean;
  createdAt: string;
  createdById: string;
  /** Newest first, like `Conversation.messages`; its length is `messageCount`. */
  messages: MessageModel[];
}

/** An audit event some response showed; kept only so its id and cursor can be thrown at other tenants. */
export interface AuditEventModel {
  id: string;
  localId: string;
  occurredAt: string;
  cursor: string;
  seq: number;
}

export interface TenantModel {
  index: number;
  /** Carried by every string this tenant writes, so a leak shows up in any response's raw text. */
  marker: string;
  tenantId: string;
  globalId: string;
  name: string;
  /** Oldest first, like `Query.users`. */
  users: UserModel[];
  /** Newest first, like `Query.conversations`. */
  conversations: ConversationModel[];
  auditEvents: AuditEventModel[];
}

/** Everything the API must show a tenant, without bookkeeping: equal fingerprints mean equal views. */
export function fingerprint(tenant: TenantModel): string {
  return JSON.stringify({
    users: tenant.users.map((u) => [u.id, u.email, u.displayName, u.role]),
    conversations: tenant.conversations.map((c) => [c.id, c.title, c.archived, c.messages.map((m) => [m.id, m.body])]),
  });
}

export function findConversation(tenant: TenantModel, id: string): ConversationModel | undefined {
  return tenant.conversations.find((c) => c.id === id);
}

export function findUser(tenant: TenantModel, id: string): UserModel | undefined {
  return tenant.users.find((u) => u.id === id);
}

export function findMessage(tenant: TenantModel, id: string): MessageModel | undefined {
  for (const conversation of tenant.conversations) {
    const message = conversation.messages.find((m) => m.id === id);
    if (message) return message;
  }
  return undefined;
}

export interface ConversationFilterModel {
  archived: boolean | null;
  /** Already trimmed, as the server trims it; null for no title filter. */
  titleContains: string | null;
}

/** `ILIKE '%…%'` with the pattern's wildcards escaped: a case-insensitive literal substring (ASCII case only). */
export function matchesFilter(conversation: { title: string; archived: boolean }, filter: ConversationFilterModel): boolean {
  if (filter.archived !== null && conversation.archived !== filter.archived) return false;
  if (filter.titleContains !== null && !asciiLower(conversation.title).includes(asciiLower(filter.titleContains))) return false;
  return true;
}

export function asciiLower(text: string): string {
  return text.replace(/[A-Z]/g, (c) => c.toLowerCase());
}

/** Length in code points, as the server and PostgreSQL count characters. */
export function codePoints(text: string): number {
  return [...text].length;
}
