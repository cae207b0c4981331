import type { Views } from './operation.js';
import { expectBetween, expectEqual, expectOneOf, fail } from './page-checks.js';
import { findConversation, findMessage, findUser, type ConversationModel, type MessageModel, type UserModel } from './tenant-model.js';

/**
 * Checks of single objects in a response against the views: each object must be the caller's tenant's, and
 * each field must hold a value it had before or after the wave (one value when the tenant was quiet).
 */

export function checkConversation(
  label: string,
  got: {
    id: string;
    title?: string;
    archived?: boolean;
    createdAt?: string;
    messageCount?: number;
    createdBy?: { id: string; displayName: string };
  },
  views: Views,
): ConversationModel {
  const after = findConversation(views.after, got.id) ?? fail(`${label}: conversation ${got.id} is not the tenant's`, got);
  const before = findConversation(views.before, got.id);
  const both = before ? [before, after] : [after];
  if (got.title !== undefined)
    expectOneOf(
      `${label}.title`,
      got.title,
      both.map((c) => c.title),
    );
  if (got.archived !== undefined)
    expectOneOf(
      `${label}.archived`,
      got.archived,
      both.map((c) => c.archived),
    );
  if (got.createdAt !== undefined) expectEqual(`${label}.createdAt`, got.createdAt, after.createdAt);
  if (got.messageCount !== undefined) {
    expectBetween(`${label}.messageCount`, got.messageCount, before?.messages.length ?? 0, after.messages.length);
  }
  if (got.createdBy !== undefined) checkUserRef(`${label}.createdBy`, got.createdBy, views, after.createdById);
  return after;
}

export function checkMessage(
  label: string,
  got: { id: string; body?: string; createdAt?: string; author?: { id: string; displayName?: string }; conversation?: { id: string } },
  views: Views,
  conversation?: ConversationModel,
): MessageModel {
  const message =
    (conversation ? conversation.messages.find((m) => m.id === got.id) : findMessage(views.after, got.id)) ??
    fail(`${label}: message ${got.id} is not ${conversation ? `in conversation ${conversation.id}` : "the tenant's"}`, got);
  if (got.body !== undefined) expectEqual(`${label}.body`, got.body, message.body);
  if (got.createdAt !== undefined) expectEqual(`${label}.createdAt`, got.createdAt, message.createdAt);
  if (got.author !== undefined) checkUserRef(`${label}.author`, got.author, views, message.authorId);
  if (got.conversation !== undefined) expectEqual(`${label}.conversation.id`, got.conversation.id, message.conversationId);
  return message;
}

export function checkUser(label: string, got: { id: string; email?: string; displayName?: string; role?: string }, views: Views): UserModel {
  const user = findUser(views.after, got.id) ?? fail(`${label}: user ${got.id} is not the tenant's`, got);
  if (got.email !== undefined) expectEqual(`${label}.email`, got.email, user.email);
  if (got.displayName !== undefined) expectEqual(`${label}.displayName`, got.displayName, user.displayName);
  if (got.role !== undefined) expectEqual(`${label}.role`, got.role, user.role);
  return user;
}

function checkUserRef(label: string, got: { id: string; displayName?: string }, views: Views, expectedId: string): void {
  expectEqual(`${label}.id`, got.id, expectedId);
  checkUser(label, got, views);
}

/**
 * `lastMessage`: the newest message. While messages are being posted to the conversation it may be the newest
 * from before the wave or any posted during it; null only if there was none before.
 */
export function checkLastMessage(label: string, got: { id: string } | null, views: Views, conversation: ConversationModel): void {
  if (views.exact) {
    expectEqual(`${label}.id`, got?.id ?? null, conversation.messages[0]?.id ?? null);
  } else {
    const before = findConversation(views.before, conversation.id);
    const candidates = [
      ...(before?.messages[0] ? [before.messages[0].id] : []),
      ...conversation.messages.filter((m) => m.wave === views.wave).map((m) => m.id),
    ];
    if (got === null ? before?.messages[0] !== undefined : !candidates.includes(got.id)) {
      fail(`${label}: not the newest message before or during the wave`, { got, candidates });
    }
  }
  if (got) checkMessage(label, got, views, conversation);
}

/** A cursor belongs to one object for good: the same object must always get the same cursor. */
export function recordCursor(label: string, entity: { id: string; cursor: string | null }, cursor: string): void {
  if (entity.cursor !== null && entity.cursor !== cursor) {
    fail(`${label}: ${entity.id} changed its cursor`, { was: entity.cursor, now: cursor });
  }
  entity.cursor = cursor;
}
