import { decodeGlobalId } from '../../src/graphql/global-id.js';
import * as doc from './documents.js';
import type { ApplyContext, ResolvedOperation, RunState } from './operation.js';
import type { OperationSpec } from './operation-specs.js';
import { expectBetween, expectEqual, fail } from './page-checks.js';
import { resolveEmail, resolveId, resolveText, type ResolvedId } from './resolve-references.js';
import { findConversation, type TenantModel, type UserModel } from './tenant-model.js';

type Base = Pick<ResolvedOperation, 'label' | 'spec' | 'tenant' | 'user'>;
type Spec<Name extends OperationSpec['op']> = Extract<OperationSpec, { op: Name }>;

export const TITLE_MAX = 200;
export const BODY_MAX = 10_000;
export const DISPLAY_NAME_MAX = 200;

/**
 * The mutations of the public API. The model predicts each outcome from the state before the wave: a malformed
 * or wrongly typed id or an invalid text is BAD_USER_INPUT, another tenant's (or no one's) conversation is
 * NOT_FOUND, a MEMBER inviting is FORBIDDEN. Only a confirmed success changes the model.
 */

export function createConversation(base: Base & { spec: Spec<'createConversation'> }): ResolvedOperation {
  const { tenant, user } = base;
  const title = resolveText(base.spec.title, tenant.marker, TITLE_MAX);
  return {
    ...base,
    query: doc.CREATE_CONVERSATION,
    variables: { input: { title: title.value } },
    rejection: title.stored === null ? 'BAD_USER_INPUT' : null,
    write: true,
    conflictKey: null,
    async apply(data: doc.CreateConversationData, { state }) {
      const got = data.createConversation.conversation;
      expectEqual(
        'createConversation',
        { ...got, id: undefined, createdAt: undefined },
        {
          title: title.stored,
          archived: false,
          messageCount: 0,
          createdBy: { id: user.id, displayName: user.displayName },
          lastMessage: null,
        },
      );
      const localId = freshLocalId(state, got.id, 'Conversation', tenant);
      tenant.conversations.unshift({
        id: got.id,
        localId,
        seq: state.nextSeq(),
        wave: state.wave,
        confirmed: false,
        cursor: null,
        title: title.stored!,
        archived: false,
        createdAt: got.createdAt,
        createdById: user.id,
        messages: [],
      });
    },
  };
}

/** The outcome of a mutation on a conversation id, checks in the resolvers' order. */
function conversationRejection(id: ResolvedId, tenant: TenantModel, textValid = true) {
  if (id.kind !== 'Conversation' || !textValid) return 'BAD_USER_INPUT' as const;
  return id.owner === tenant ? null : ('NOT_FOUND' as const);
}

export function renameConversation(base: Base & { spec: Spec<'renameConversation'> }, state: RunState): ResolvedOperation {
  const { tenant } = base;
  const id = resolveId(base.spec.id, state.tenants, tenant);
  const title = resolveText(base.spec.title, tenant.marker, TITLE_MAX);
  const rejection = conversationRejection(id, tenant, title.stored !== null);
  return {
    ...base,
    query: doc.RENAME_CONVERSATION,
    variables: { input: { id: id.value, title: title.value } },
    rejection,
    write: true,
    // Two renames of one conversation in one wave would leave either title; they go to separate waves.
    conflictKey: rejection === null ? `rename ${id.value}` : null,
    async apply(data: doc.RenameConversationData) {
      expectEqual('renameConversation', data.renameConversation.conversation, { id: id.value, title: title.stored });
      findConversation(tenant, id.value)!.title = title.stored!;
    },
  };
}

export function archiveConversation(base: Base & { spec: Spec<'archiveConversation'> }, state: RunState): ResolvedOperation {
  const { tenant } = base;
  const id = resolveId(base.spec.id, state.tenants, tenant);
  return {
    ...base,
    query: doc.ARCHIVE_CONVERSATION,
    variables: { input: { id: id.value } },
    rejection: conversationRejection(id, tenant),
    write: true,
    conflictKey: null,
    async apply(data: doc.ArchiveConversationData) {
      expectEqual('archiveConversation', data.archiveConversation.conversation, { id: id.value, archived: true });
      findConversation(tenant, id.value)!.archived = true;
    },
  };
}

export function postMessage(base: Base & { spec: Spec<'postMessage'> }, state: RunState): ResolvedOperation {
  const { tenant, user } = base;
  const id = resolveId(base.spec.conversation, state.tenants, tenant);
  const body = resolveText(base.spec.body, tenant.marker, BODY_MAX);
  return {
    ...base,
    query: doc.POST_MESSAGE,
    variables: { input: { conversationId: id.value, body: body.value } },
    rejection: conversationRejection(id, tenant, body.stored !== null),
    write: true,
    conflictKey: null,
    async apply(data: doc.PostMessageData, context) {
      const got = data.postMessage.message;
      expectEqual(
        'postMessage',
        { body: got.body, author: got.author, conversationId: got.conversation.id },
        {
          body: body.stored,
          author: { id: user.id, displayName: user.displayName },
          conversationId: id.value,
        },
      );
      const conversation = findConversation(tenant, id.value)!;
      const localId = freshLocalId(context.state, got.id, 'Message', tenant);
      conversation.messages.unshift({
        id: got.id,
        localId,
        seq: context.state.nextSeq(),
        wave: context.state.wave,
        confirmed: false,
        cursor: null,
        body: body.stored!,
        createdAt: got.createdAt,
        authorId: user.id,
        conversationId: conversation.id,
      });
      checkConcurrentCounts(context, conversation.id, got.conversation.messageCount);
    },
  };
}

/**
 * Posts to one conversation in one wave serialise on its row (the message_count trigger locks it), so the counts
 * they report are exactly before+1 … after, each once.
 */
function checkConcurrentCounts(context: ApplyContext, conversationId: string, reported: number): void {
  const seen = context.reportedCounts.get(conversationId);
  if (seen) {
    seen.push(reported);
    return;
  }
  const counts = [reported];
  context.reportedCounts.set(conversationId, counts);
  const before = findConversation(context.before, conversationId)?.messages.length ?? 0;
  context.afterWave(() => {
    counts.sort((a, b) => a - b);
    for (const count of counts) expectBetween('postMessage.conversation.messageCount', count, before + 1, before + counts.length);
    if (new Set(counts).size !== counts.length) fail('postMessage: two concurrent posts reported the same messageCount', counts);
  });
}

export function inviteUser(base: Base & { spec: Spec<'inviteUser'> }): ResolvedOperation {
  const { tenant, user, spec } = base;
  const email = resolveEmail(spec.email, tenant);
  const displayName = resolveText(spec.displayName, tenant.marker, DISPLAY_NAME_MAX);
  const taken = email.stored !== null && tenant.users.some((u) => u.email.toLowerCase() === email.stored!.toLowerCase());
  const rejection = user.role !== 'ADMIN' ? 'FORBIDDEN' : email.stored === null || displayName.stored === null || taken ? 'BAD_USER_INPUT' : null;
  const role = spec.role ?? 'MEMBER';
  return {
    ...base,
    query: doc.INVITE_USER,
    variables: { input: { email: email.value, displayName: displayName.value, ...(spec.role ? { role: spec.role } : {}) } },
    rejection,
    write: true,
    // Two invitations of one address race for the unique index: which one wins is up to the database.
    conflictKey: user.role === 'ADMIN' ? `invite ${tenant.index} ${email.value.trim().toLowerCase()}` : null,
    async apply(data: doc.InviteUserData, { state }) {
      const got = data.inviteUser.user;
      expectEqual('inviteUser', { ...got, id: undefined }, { email: email.stored, displayName: displayName.stored, role });
      const localId = freshLocalId(state, got.id, 'User', tenant);
      const invited: UserModel = {
        id: got.id,
        localId,
        seq: state.nextSeq(),
        wave: state.wave,
        confirmed: false,
        cursor: null,
        email: email.stored!,
        displayName: displayName.stored!,
        role,
        token: await state.tokenFor(tenant, localId),
      };
      tenant.users.push(invited);
    },
  };
}

/** A created object's id must decode to its type and be new to the whole run; it is then the tenant's. */
function freshLocalId(state: RunState, id: string, type: 'User' | 'Conversation' | 'Message', tenant: TenantModel): string {
  const { localId } = decodeGlobalId(id, type);
  const owner = state.leaks.ownerOf(localId);
  if (owner !== undefined) fail(`${type} ${id} was created, but its id already belongs to tenant ${owner}`);
  state.leaks.register(localId, tenant.marker);
  return localId;
}
