import * as doc from './documents.js';
import { checkConversation, checkLastMessage, checkMessage, checkUser, recordCursor } from './entity-checks.js';
import { invalidFirst, pageSize, type ResolvedOperation, type RunState, type Views } from './operation.js';
import type { OperationSpec } from './operation-specs.js';
import {
  backwardEnds,
  checkExactBackwardPage,
  checkExactPage,
  checkNewestFirst,
  checkPossibleItems,
  checkPossiblePage,
  cursorOffsets,
  expectBetween,
  expectEqual,
  fail,
} from './page-checks.js';
import { resolveCursor, resolveId, resolveTitleQuery, type ResolvedId } from './resolve-references.js';
import { findConversation, findUser, matchesFilter, type ConversationFilterModel, type TenantModel } from './tenant-model.js';

type Base = Pick<ResolvedOperation, 'label' | 'spec' | 'tenant' | 'user'>;
type Spec<Name extends OperationSpec['op']> = Extract<OperationSpec, { op: Name }>;

/** The queries of the public API: what each sends, what the model predicts, and how its answer is checked. */

export function viewer(base: Base): ResolvedOperation {
  const { tenant, user } = base;
  return {
    ...base,
    query: doc.VIEWER,
    variables: {},
    rejection: null,
    write: false,
    conflictKey: null,
    check(data: doc.ViewerData) {
      expectEqual('viewer', data.viewer, {
        user: { id: user.id, email: user.email, displayName: user.displayName, role: user.role },
        tenant: { id: tenant.globalId, name: tenant.name },
      });
    },
  };
}

export function node(base: Base & { spec: Spec<'node'> }, state: RunState): ResolvedOperation {
  const id = resolveId(base.spec.id, state.tenants, base.tenant);
  const decodable = id.kind !== null && id.kind !== 'AuditEvent';
  return {
    ...base,
    query: doc.NODE,
    variables: { id: id.value },
    rejection: decodable ? null : 'BAD_USER_INPUT',
    write: false,
    conflictKey: null,
    check: (data: doc.NodeData, views) => checkNode('node', data.node, id, base.tenant, views),
  };
}

/** `n0: node(…) n1: node(…) …` in one request: the loaders see the caller's ids and other tenants' in one batch. */
export function nodes(base: Base & { spec: Spec<'nodes'> }, state: RunState): ResolvedOperation {
  const ids = base.spec.ids.map((ref) => resolveId(ref, state.tenants, base.tenant));
  return {
    ...base,
    query: doc.nodesQuery(ids.length),
    variables: Object.fromEntries(ids.map((id, i) => [`n${i}`, id.value])),
    rejection: null,
    write: false,
    conflictKey: null,
    check(data: Record<string, doc.NodeResult | null>, views) {
      ids.forEach((id, i) => checkNode(`nodes.n${i}`, data[`n${i}`] ?? null, id, base.tenant, views));
    },
  };
}

function checkNode(label: string, got: doc.NodeResult | null, id: ResolvedId, tenant: TenantModel, views: Views): void {
  if (id.owner !== tenant) return expectEqual(`${label} (not the tenant's)`, got, null);
  if (!got) fail(`${label}: the tenant's own ${id.kind} ${id.value} came back null`);
  expectEqual(`${label}.__typename`, got.__typename, id.kind);
  expectEqual(`${label}.id`, got.id, id.value);
  if (got.__typename === 'Tenant') expectEqual(`${label}(Tenant).name`, got.name, tenant.name);
  if (got.__typename === 'User') checkUser(`${label}(User)`, got, views);
  if (got.__typename === 'Conversation') checkConversation(`${label}(Conversation)`, got, views);
  if (got.__typename === 'Message') checkMessage(`${label}(Message)`, got, views);
}

export function conversation(base: Base & { spec: Spec<'conversation'> }, state: RunState): ResolvedOperation {
  const { spec, tenant } = base;
  const id = resolveId(spec.id, state.tenants, tenant);
  const after = resolveCursor(spec.after, state.tenants, tenant);
  const backward = pagesBackward(spec.first, after.value, spec.backward);
  const own = id.kind === 'Conversation' && id.owner === tenant;
  const rejection = id.kind !== 'Conversation' || (own && (invalidFirst(spec.first) || after.invalid)) ? ('BAD_USER_INPUT' as const) : null;
  return {
    ...base,
    query: doc.CONVERSATION,
    variables: { id: id.value, ...pageVariables(spec.first, after.value, backward) },
    rejection,
    write: false,
    conflictKey: null,
    check(data: doc.ConversationData, views) {
      if (!own) return expectEqual("conversation (not the tenant's)", data.conversation, null);
      const got = data.conversation ?? fail(`conversation: the tenant's own conversation ${id.value} came back null`);
      const model = checkConversation('conversation', got, views);
      const before = findConversation(views.before, model.id);
      expectBetween('conversation.messages.totalCount', got.messages.totalCount, before?.messages.length ?? 0, model.messages.length);
      checkLastMessage('conversation.lastMessage', got.lastMessage, views, model);
      const first = pageSize(spec.first);
      const page = pageOf(got.messages.edges, got.messages.pageInfo);
      if (views.exact && backward) {
        const ends = backwardEnds(after, model.messages, model.messages, 'Message', 'newest first');
        checkExactBackwardPage(
          'conversation.messages',
          page,
          model.messages.map((m) => m.id),
          ends,
          first,
          after.value !== null,
        );
      } else if (views.exact) {
        const offsets = cursorOffsets(after, model.messages, model.messages, 'Message', 'newest first');
        checkExactPage(
          'conversation.messages',
          page,
          model.messages.map((m) => m.id),
          offsets,
          first,
        );
      } else {
        checkPossiblePage('conversation.messages', page, new Set(model.messages.map((m) => m.id)), first);
        checkNewestFirst(
          'conversation.messages',
          got.messages.edges.map((e) => e.node.createdAt),
        );
      }
      for (const edge of got.messages.edges) {
        recordCursor('conversation.messages', checkMessage('conversation.messages', edge.node, views, model), edge.cursor);
      }
    },
  };
}

export function conversations(base: Base & { spec: Spec<'conversations'> }, state: RunState): ResolvedOperation {
  const { spec, tenant } = base;
  const after = resolveCursor(spec.after, state.tenants, tenant);
  const backward = pagesBackward(spec.first, after.value, spec.backward);
  const query = spec.titleContains ? resolveTitleQuery(spec.titleContains, state.tenants, tenant) : null;
  const filter: ConversationFilterModel = { archived: spec.archived, titleContains: query?.filter ?? null };
  const variables: Record<string, unknown> = pageVariables(spec.first, after.value, backward);
  if (spec.archived !== null || query) {
    variables.filter = { ...(spec.archived !== null ? { archived: spec.archived } : {}), ...(query ? { titleContains: query.value } : {}) };
  }
  return {
    ...base,
    query: doc.CONVERSATIONS,
    variables,
    rejection: invalidFirst(spec.first) || after.invalid || query?.invalid ? 'BAD_USER_INPUT' : null,
    write: false,
    conflictKey: null,
    check(data: doc.ConversationsData, views) {
      const got = data.conversations;
      const first = pageSize(spec.first);
      const page = pageOf(got.edges, got.pageInfo);
      const all = views.after.conversations;
      if (views.exact) {
        const matching = all.filter((c) => matchesFilter(c, filter));
        expectEqual('conversations.totalCount', got.totalCount, matching.length);
        if (backward) {
          const ends = backwardEnds(after, matching, all, 'Conversation', 'newest first');
          checkExactBackwardPage(
            'conversations',
            page,
            matching.map((c) => c.id),
            ends,
            first,
            after.value !== null,
          );
        } else {
          const offsets = cursorOffsets(after, matching, all, 'Conversation', 'newest first');
          checkExactPage(
            'conversations',
            page,
            matching.map((c) => c.id),
            offsets,
            first,
          );
        }
      } else {
        const { must, may } = possibleMatches(views, filter);
        expectBetween('conversations.totalCount', got.totalCount, must, may.size);
        checkPossiblePage('conversations', page, may, first);
        checkNewestFirst(
          'conversations',
          got.edges.map((e) => e.node.createdAt),
        );
      }
      for (const edge of got.edges) recordCursor('conversations', checkConversation('conversations', edge.node, views), edge.cursor);
    },
  };
}

/**
 * While a tenant's conversations are renamed and archived concurrently with a filtered read, each conversation
 * may be seen with any mix of its old and new title and flag: it must match if every mix matches and existed
 * before; it may match if any mix does.
 */
function possibleMatches(views: Views, filter: ConversationFilterModel): { must: number; may: Set<string> } {
  let must = 0;
  const may = new Set<string>();
  for (const after of views.after.conversations) {
    const before = findConversation(views.before, after.id);
    const titles = [after.title, ...(before ? [before.title] : [])];
    const flags = [after.archived, ...(before ? [before.archived] : [])];
    const mixes = titles.flatMap((title) => flags.map((archived) => matchesFilter({ title, archived }, filter)));
    if (before && mixes.every(Boolean)) must += 1;
    if (mixes.some(Boolean)) may.add(after.id);
  }
  return { must, may };
}

export function dashboard(base: Base & { spec: Spec<'dashboard'> }): ResolvedOperation {
  const { spec } = base;
  const active: ConversationFilterModel = { archived: false, titleContains: null };
  return {
    ...base,
    query: doc.DASHBOARD,
    variables: { first: spec.first, messages: spec.messages },
    rejection: null,
    write: false,
    conflictKey: null,
    check(data: doc.DashboardData, views) {
      const nodes = data.conversations.nodes;
      const ids = nodes.map((n) => n.id);
      if (views.exact) {
        const expected = views.after.conversations.filter((c) => matchesFilter(c, active)).slice(0, spec.first);
        expectEqual(
          'dashboard',
          ids,
          expected.map((c) => c.id),
        );
      } else {
        checkPossibleItems('dashboard', ids, possibleMatches(views, active).may, spec.first);
      }
      for (const got of nodes) {
        const model = checkConversation('dashboard', got, views);
        checkLastMessage('dashboard.lastMessage', got.lastMessage, views, model);
        const messageIds = got.messages.nodes.map((m) => m.id);
        const messagesFirst = pageSize(spec.messages);
        if (views.exact)
          expectEqual(
            'dashboard.messages',
            messageIds,
            model.messages.slice(0, messagesFirst).map((m) => m.id),
          );
        else checkPossibleItems('dashboard.messages', messageIds, new Set(model.messages.map((m) => m.id)), messagesFirst);
        for (const message of got.messages.nodes) checkMessage('dashboard.messages', message, views, model);
      }
    },
  };
}

export function users(base: Base & { spec: Spec<'users'> }, state: RunState): ResolvedOperation {
  const { spec, tenant } = base;
  const after = resolveCursor(spec.after, state.tenants, tenant);
  const backward = pagesBackward(spec.first, after.value, spec.backward);
  return {
    ...base,
    query: doc.USERS,
    variables: pageVariables(spec.first, after.value, backward),
    rejection: invalidFirst(spec.first) || after.invalid ? 'BAD_USER_INPUT' : null,
    write: false,
    conflictKey: null,
    check(data: doc.UsersData, views) {
      const got = data.users;
      const first = pageSize(spec.first);
      const page = pageOf(got.edges, got.pageInfo);
      const all = views.after.users;
      expectBetween('users.totalCount', got.totalCount, views.before.users.length, all.length);
      if (views.exact) {
        const positioned = all.map((u) => ({ id: u.id, createdAt: null }));
        if (backward) {
          const ends = backwardEnds(after, positioned, positioned, 'User', 'oldest first');
          checkExactBackwardPage(
            'users',
            page,
            all.map((u) => u.id),
            ends,
            first,
            after.value !== null,
          );
        } else {
          checkExactPage(
            'users',
            page,
            all.map((u) => u.id),
            cursorOffsets(after, positioned, positioned, 'User', 'oldest first'),
            first,
          );
        }
      } else {
        checkPossiblePage('users', page, new Set(all.map((u) => u.id)), first);
      }
      for (const edge of got.edges) recordCursor('users', checkUser('users', edge.node, views), edge.cursor);
    },
  };
}

const SINCE = { past: '2000-01-01T00:00:00.000Z', future: '2999-01-01T00:00:00.000Z', invalid: 'not-a-date' } as const;

/**
 * `auditEvents` is written off the request path, so which events exist at a given moment is not predictable;
 * what is checked is that every event is one of this tenant's requests (request ids carry the tenant's marker),
 * names one of its users, and honours the filter.
 */
export function auditEvents(base: Base & { spec: Spec<'auditEvents'> }, state: RunState): ResolvedOperation {
  const { spec, tenant, user } = base;
  const after = resolveCursor(spec.after, state.tenants, tenant);
  const userId = spec.userId ? resolveId(spec.userId, state.tenants, tenant) : null;
  const since = spec.since ? SINCE[spec.since] : null;
  const filter = { userId: userId?.value ?? null, operationType: spec.operationType, since };
  // An invalid `since` is refused by the DateTime scalar while Apollo coerces the variables, before any resolver
  // checks the role.
  const rejection =
    invalidFirst(spec.first) || after.invalid || spec.since === 'invalid'
      ? 'BAD_USER_INPUT'
      : user.role !== 'ADMIN'
        ? 'FORBIDDEN'
        : userId !== null && userId.value !== '' && userId.kind !== 'User'
          ? 'BAD_USER_INPUT'
          : null;
  return {
    ...base,
    query: doc.AUDIT_EVENTS,
    variables: { first: spec.first, after: after.value, filter },
    rejection,
    write: false,
    conflictKey: null,
    check(data: doc.AuditEventsData, views, runState) {
      const got = data.auditEvents;
      const page = pageOf(got.edges, got.pageInfo);
      checkPossiblePage('auditEvents', page, new Set(page.ids), pageSize(spec.first));
      checkNewestFirst(
        'auditEvents',
        got.edges.map((e) => e.node.occurredAt),
      );
      const filteredUser = userId && userId.value !== '' ? userId : null;
      if ((filteredUser && filteredUser.owner !== tenant) || spec.since === 'future') {
        expectEqual('auditEvents (filter that nothing of this tenant matches)', page.ids, []);
      }
      for (const { node: event, cursor } of got.edges) {
        if (!event.requestId.startsWith(`${tenant.marker}-`)) fail("auditEvents: an event of another tenant's request", event);
        if (filteredUser) expectEqual('auditEvents.userId (filtered)', event.userId, filteredUser.value);
        if (spec.operationType) expectEqual('auditEvents.operationType (filtered)', event.operationType, spec.operationType);
        if (event.userId !== null) {
          const member = findUser(views.after, event.userId) ?? fail('auditEvents: userId is not a member of the tenant', event);
          if (event.user) checkUser('auditEvents.user', event.user, views);
          else fail('auditEvents: user is null for a member', { event, member: member.id });
        }
        rememberAuditEvent(tenant, event, cursor, runState);
      }
    },
  };
}

function rememberAuditEvent(tenant: TenantModel, event: doc.AuditEventNode, cursor: string, state: RunState): void {
  if (tenant.auditEvents.some((e) => e.id === event.id)) return;
  const localId = Buffer.from(event.id, 'base64url')
    .toString('utf8')
    .replace(/^AuditEvent:/, '');
  state.leaks.register(localId, tenant.marker);
  tenant.auditEvents.push({ id: event.id, localId, occurredAt: event.occurredAt, cursor, seq: state.nextSeq() });
}

function pageOf(edges: { cursor: string; node: { id: string } }[], pageInfo: doc.PageInfo) {
  return {
    ids: edges.map((e) => e.node.id),
    hasNextPage: pageInfo.hasNextPage,
    endCursor: pageInfo.endCursor,
    lastEdgeCursor: edges.at(-1)?.cursor ?? null,
    ...(pageInfo.startCursor !== undefined
      ? { startCursor: pageInfo.startCursor, firstEdgeCursor: edges[0]?.cursor ?? null, hasPreviousPage: pageInfo.hasPreviousPage! }
      : {}),
  };
}

/** `first`/`after` forward, or the same size and cursor as `last`/`before` backward (see {@link pagesBackward}). */
function pageVariables(size: number | null, cursor: string | null, backward: boolean): Record<string, unknown> {
  return backward ? { last: size, before: cursor } : { first: size, after: cursor };
}

/** `last: null, before: null` is no argument at all (GraphQL null means absent): that page goes forward. */
function pagesBackward(size: number | null, cursor: string | null, backward: boolean): boolean {
  return backward && (size !== null || cursor !== null);
}
