import * as doc from './documents.js';
import { checkConversation, checkLastMessage, checkMessage, checkUser, recordCursor } from './entity-checks.js';
import type { Caller, Send } from './fuzz-client.js';
import type { LeakDetector } from './leak-detector.js';
import type { Views } from './operation.js';
import { expectEqual, fail } from './page-checks.js';
import type { ConversationModel, TenantModel } from './tenant-model.js';

/**
 * After every wave, with nothing in flight: each tenant reads its whole view through the API, which must equal
 * its model exactly. This is also where the model learns the order of objects created concurrently in the wave
 * (the server breaks ties of equal timestamps by id), so that later reads can be checked page by page.
 */

export interface Verifier {
  send: Send;
  leaks: LeakDetector;
}

const PAGE = 50;
const MAX_PAGES = 100;

/** A request that must succeed and show nothing of another tenant. */
export async function fetchChecked<TData>(
  verifier: Verifier,
  tenant: TenantModel,
  caller: Caller,
  label: string,
  query: string,
  variables: Record<string, unknown>,
): Promise<TData> {
  const response = await verifier.send<TData>(caller, query, variables);
  const leaks = verifier.leaks.scan(tenant.marker, response.text, response.body, variables);
  if (leaks.length > 0) {
    fail(`${label}: response of tenant ${tenant.marker} contains another tenant's data`, { leaks, response: response.text });
  }
  if (response.status !== 200 || !response.body?.data || response.body.errors) {
    fail(`${label}: request failed`, { status: response.status, response: response.text });
  }
  return response.body.data;
}

export async function verifyTenantView(verifier: Verifier, tenant: TenantModel): Promise<void> {
  const admin = tenant.users[0]!;
  const caller = { token: admin.token, marker: tenant.marker };
  const views: Views = { before: tenant, after: tenant, exact: true, wave: -1 };
  await Promise.all([verifyConversations(verifier, tenant, caller, views), verifyUsers(verifier, tenant, caller, views)]);
  const unconfirmed = tenant.conversations.filter((c) => c.messages.some((m) => !m.confirmed));
  await Promise.all(unconfirmed.map((c) => verifyMessages(verifier, tenant, caller, views, c)));
}

async function paginate<TEdge>(
  fetchPage: (after: string | null) => Promise<{ edges: TEdge[]; pageInfo: doc.PageInfo; totalCount: number }>,
  expectedTotal: number,
  label: string,
): Promise<TEdge[]> {
  const edges: TEdge[] = [];
  let after: string | null = null;
  for (let page = 0; page < MAX_PAGES; page += 1) {
    const connection = await fetchPage(after);
    expectEqual(`${label}.totalCount`, connection.totalCount, expectedTotal);
    edges.push(...connection.edges);
    if (!connection.pageInfo.hasNextPage) return edges;
    after = connection.pageInfo.endCursor;
  }
  return fail(`${label}: more than ${MAX_PAGES} pages`);
}

async function verifyConversations(verifier: Verifier, tenant: TenantModel, caller: Caller, views: Views): Promise<void> {
  const label = `view of tenant ${tenant.marker}: conversations`;
  const edges = await paginate(
    async (after) =>
      (await fetchChecked<doc.ConversationsData>(verifier, tenant, caller, label, doc.CONVERSATIONS, { first: PAGE, after })).conversations,
    tenant.conversations.length,
    label,
  );
  tenant.conversations = adoptServerOrder(
    label,
    edges.map((e) => e.node.id),
    tenant.conversations,
    'newest first',
  );
  for (const edge of edges) recordCursor(label, checkConversation(label, edge.node, views), edge.cursor);
}

async function verifyUsers(verifier: Verifier, tenant: TenantModel, caller: Caller, views: Views): Promise<void> {
  const label = `view of tenant ${tenant.marker}: users`;
  const edges = await paginate(
    async (after) => (await fetchChecked<doc.UsersData>(verifier, tenant, caller, label, doc.USERS, { first: PAGE, after })).users,
    tenant.users.length,
    label,
  );
  tenant.users = adoptServerOrder(
    label,
    edges.map((e) => e.node.id),
    tenant.users,
    'oldest first',
  );
  for (const edge of edges) recordCursor(label, checkUser(label, edge.node, views), edge.cursor);
}

async function verifyMessages(verifier: Verifier, tenant: TenantModel, caller: Caller, views: Views, conversation: ConversationModel): Promise<void> {
  const label = `view of tenant ${tenant.marker}: messages of ${conversation.id}`;
  let lastMessage: { id: string } | null = null;
  const edges = await paginate(
    async (after) => {
      const data = await fetchChecked<doc.ConversationData>(verifier, tenant, caller, label, doc.CONVERSATION, {
        id: conversation.id,
        first: PAGE,
        after,
      });
      const got = data.conversation ?? fail(`${label}: the conversation came back null`);
      checkConversation(label, got, views);
      lastMessage = got.lastMessage;
      return got.messages;
    },
    conversation.messages.length,
    label,
  );
  conversation.messages = adoptServerOrder(
    label,
    edges.map((e) => e.node.id),
    conversation.messages,
    'newest first',
  );
  checkLastMessage(`${label}: lastMessage`, lastMessage, views, conversation);
  for (const edge of edges) recordCursor(label, checkMessage(label, edge.node, views, conversation), edge.cursor);
}

/**
 * The server's list must hold exactly the model's objects, keep the order already confirmed, and put objects of
 * later waves after (or, newest first, before) those of earlier ones. Returns the model's objects in the server's
 * order, all confirmed.
 */
export function adoptServerOrder<T extends { id: string; wave: number; confirmed: boolean }>(
  label: string,
  serverIds: readonly string[],
  model: readonly T[],
  order: 'newest first' | 'oldest first',
): T[] {
  const byId = new Map(model.map((item) => [item.id, item]));
  const extra = serverIds.filter((id) => !byId.has(id));
  const missing = model.filter((item) => !serverIds.includes(item.id)).map((item) => item.id);
  if (extra.length > 0 || missing.length > 0 || new Set(serverIds).size !== serverIds.length) {
    fail(`${label}: the objects differ from the model`, { extra, missing, received: serverIds });
  }
  const ordered = serverIds.map((id) => byId.get(id)!);
  for (let i = 1; i < ordered.length; i += 1) {
    const [previous, current] = [ordered[i - 1]!, ordered[i]!];
    if (order === 'newest first' ? current.wave > previous.wave : current.wave < previous.wave) {
      fail(`${label}: not ${order}: an object of wave ${current.wave} follows one of wave ${previous.wave}`, serverIds);
    }
  }
  const confirmedServer = ordered.filter((item) => item.confirmed).map((item) => item.id);
  const confirmedModel = model.filter((item) => item.confirmed).map((item) => item.id);
  expectEqual(`${label}: order of objects already seen`, confirmedServer, confirmedModel);
  for (const item of ordered) item.confirmed = true;
  return ordered;
}
