import { decodeEventCursor } from '../../src/realtime/event-cursor.js';
import * as doc from './documents.js';
import { fail } from './page-checks.js';
import { cursorOf, type FuzzSubscription, type SubscriberPool } from './subscribers.js';
import { findConversation, type TenantModel } from './tenant-model.js';
import { fetchChecked, type Verifier } from './view-verifier.js';

/**
 * The end of a run with subscribers (issue 12 §3). After the last wave, a sentinel is written where subscribers
 * look — a message in every conversation subscribed to (own or foreign), a conversation in every tenant with a
 * conversationChanged subscriber — and every subscription that must be live waits for its sentinel, which
 * commits after everything the waves wrote. Then:
 *   (a) no frame any socket received shows another tenant's marker, row id or tenant id;
 *   (b) every own subscription received exactly the events of the waves after its start (or its cursor): for
 *       messagePosted the model's messages of the conversation, each once, wave by wave in order (within a
 *       wave, posts commit in any order), then the sentinel; cursors strictly increase across resumes;
 *   (c) a foreign conversation or a foreign cursor gets NOT_FOUND or BAD_USER_INPUT, or nothing — never an event.
 */
const DELIVERY_TIMEOUT_MS = 30_000;
const REFUSALS: unknown[] = ['NOT_FOUND', 'BAD_USER_INPUT'];

export async function verifyDeliveries(pool: SubscriberPool, verifier: Verifier): Promise<void> {
  const subs = pool.subscriptions;
  if (subs.length === 0) return;
  const sentinels = await writeSentinels(subs, verifier);
  const own = subs.filter((s) => !s.foreign);
  const waiting = () => own.filter((s) => !s.ended && !received(s, sentinels));
  const deadline = Date.now() + DELIVERY_TIMEOUT_MS;
  while (waiting().length > 0 && Date.now() < deadline) await pool.nextEvent(deadline - Date.now());
  const late = waiting();
  if (late.length > 0) {
    fail(
      `realtime: ${late.length} subscription(s) did not receive their sentinel within ${DELIVERY_TIMEOUT_MS} ms`,
      late.map((s) => ({ subscription: s.label, variables: s.variables, resumes: s.resumes, received: s.data.map(summary), errors: s.errors })),
    );
  }

  for (const socket of pool.sockets) {
    for (const frame of socket.frames) {
      const problems = verifier.leaks.scan(socket.tenant.marker, frame, bodyOf(frame), socket.sent);
      if (problems.length > 0) fail(`LEAK: ${socket.label} received another tenant's data: ${problems.join('; ')}`, { frame });
    }
  }
  for (const sub of subs) checkSubscription(sub, sentinels);
}

/** (b) for an own subscription, (c) for a foreign one; the failure names the subscription. */
export function checkSubscription(sub: FuzzSubscription, sentinels: Sentinels): void {
  try {
    if (sub.foreign) checkRefused(sub);
    else if (sub.field === 'messagePosted') checkMessages(sub, sentinels);
    else checkConversationChanges(sub, sentinels);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    fail(`${sub.label}\n  ${message}\n  variables: ${JSON.stringify(sub.variables)}\n  resumes: ${sub.resumes}`);
  }
}

export interface Sentinels {
  /** Conversation id -> the sentinel message posted in it. */
  messages: Map<string, string>;
  /** Tenant index -> the sentinel conversation created in it. */
  conversations: Map<number, string>;
}

async function writeSentinels(subs: readonly FuzzSubscription[], verifier: Verifier): Promise<Sentinels> {
  const sentinels: Sentinels = { messages: new Map(), conversations: new Map() };
  const rooms = new Map(subs.flatMap((s) => (s.conversation ? [[s.conversation.id, s.conversation.tenant] as const] : [])));
  const feeds = new Set(subs.filter((s) => s.field === 'conversationChanged').map((s) => s.socket.tenant));
  const caller = (tenant: TenantModel) => ({ token: tenant.users[0]!.token, marker: tenant.marker });
  const register = (tenant: TenantModel, id: string) => verifier.leaks.register(localIdOf(id), tenant.marker);
  await Promise.all([
    ...[...rooms].map(async ([conversationId, tenant]) => {
      const data = await fetchChecked<doc.PostMessageData>(verifier, tenant, caller(tenant), 'realtime sentinel', doc.POST_MESSAGE, {
        input: { conversationId, body: `${tenant.marker} sentinel` },
      });
      register(tenant, data.postMessage.message.id);
      sentinels.messages.set(conversationId, data.postMessage.message.id);
    }),
    ...[...feeds].map(async (tenant) => {
      const data = await fetchChecked<doc.CreateConversationData>(verifier, tenant, caller(tenant), 'realtime sentinel', doc.CREATE_CONVERSATION, {
        input: { title: `${tenant.marker} sentinel` },
      });
      register(tenant, data.createConversation.conversation.id);
      sentinels.conversations.set(tenant.index, data.createConversation.conversation.id);
    }),
  ]);
  return sentinels;
}

function received(sub: FuzzSubscription, sentinels: Sentinels): boolean {
  if (sub.field === 'messagePosted') {
    const sentinel = sentinels.messages.get(sub.conversation!.id);
    return sub.data.some((d) => d.messagePosted.message.id === sentinel);
  }
  const sentinel = sentinels.conversations.get(sub.socket.tenant.index);
  return sub.data.some((d) => d.conversationChanged.kind === 'CREATED' && d.conversationChanged.conversationId === sentinel);
}

function checkRefused(sub: FuzzSubscription): void {
  if (sub.data.length > 0) fail(`LEAK: a foreign conversation or cursor delivered ${sub.data.length} event(s)`, sub.data.map(summary));
  const codes = sub.errors.map((e) => e?.extensions?.code);
  if (codes.some((code) => !REFUSALS.includes(code)))
    fail(`expected NOT_FOUND or BAD_USER_INPUT (or nothing), received ${JSON.stringify(sub.errors)}`);
}

function checkMessages(sub: FuzzSubscription, sentinels: Sentinels): void {
  const { tenant } = sub.socket;
  if (sub.errors.length > 0) fail(`an own subscription failed: ${JSON.stringify(sub.errors)}`);
  const conversation = findConversation(tenant, sub.conversation!.id) ?? fail('the subscribed conversation is not in the model');
  // The model's messages are newest first; oldest first by wave is the order their events must come in.
  const entitled = conversation.messages.filter((m) => m.wave > sub.since).reverse();
  const waveOf = new Map(entitled.map((m) => [m.id, m.wave]));
  const sentinel = sentinels.messages.get(conversation.id)!;
  waveOf.set(sentinel, Number.POSITIVE_INFINITY);
  const ids = sub.data.map((d) => d.messagePosted.message.id as string);
  checkCursors(sub);
  const duplicates = ids.filter((id, i) => ids.indexOf(id) !== i);
  if (duplicates.length > 0) fail(`received message(s) twice: ${duplicates.join(', ')}`, ids);
  const unexpected = ids.filter((id) => !waveOf.has(id));
  if (unexpected.length > 0) fail(`received message(s) it is not entitled to (before its start, or not of the conversation)`, { unexpected, ids });
  const missing = [...waveOf.keys()].filter((id) => !ids.includes(id));
  if (missing.length > 0) fail(`missed ${missing.length} message(s) of the waves after its start`, { missing, received: ids });
  const waves = ids.map((id) => waveOf.get(id)!);
  if (waves.some((wave, i) => i > 0 && wave < waves[i - 1]!)) fail('received messages out of wave order', { ids, waves });
  for (const d of sub.data) {
    const { message } = d.messagePosted;
    const model = conversation.messages.find((m) => m.id === message.id);
    const body = model?.body ?? `${tenant.marker} sentinel`;
    if (message.body !== body || message.conversation.id !== conversation.id)
      fail('an event does not show the message as written', { message, body });
  }
}

function checkConversationChanges(sub: FuzzSubscription, sentinels: Sentinels): void {
  const { tenant } = sub.socket;
  if (sub.errors.length > 0) fail(`an own subscription failed: ${JSON.stringify(sub.errors)}`);
  checkCursors(sub);
  const sentinel = sentinels.conversations.get(tenant.index)!;
  const own = new Set([...tenant.conversations.map((c) => c.id), sentinel]);
  const events = sub.data.map((d) => d.conversationChanged);
  const stray = events.filter((e) => !own.has(e.conversationId));
  if (stray.length > 0) fail('received changes of conversations its tenant does not have', stray);
  const created = events.filter((e) => e.kind === 'CREATED').map((e) => e.conversationId as string);
  const expected = [...tenant.conversations.filter((c) => c.wave > sub.since).map((c) => c.id), sentinel];
  const sorted = (list: string[]) => [...list].sort();
  if (JSON.stringify(sorted(created)) !== JSON.stringify(sorted(expected))) {
    fail('CREATED events are not exactly the conversations created after its start', { created, expected });
  }
}

/** Positions strictly increase across the whole subscription, resumes included: no duplicate, commit order. */
function checkCursors(sub: FuzzSubscription): void {
  const positions = sub.data.map((d) => {
    const position = decodeEventCursor(cursorOf(d), sub.socket.tenant.tenantId);
    return position === null ? fail(`an event carries a cursor that is not its tenant's: ${cursorOf(d)}`) : BigInt(position);
  });
  if (positions.some((p, i) => i > 0 && p <= positions[i - 1]!)) fail('event cursors do not strictly increase', positions.map(String));
}

function bodyOf(frame: string): { data?: unknown; errors?: unknown } | null {
  let message: { type?: string; payload?: unknown };
  try {
    message = JSON.parse(frame);
  } catch {
    return null;
  }
  if (message.type === 'next') return message.payload as { data?: unknown };
  if (message.type === 'error') return { errors: message.payload };
  return null;
}

function summary(result: any): unknown {
  const event = result.messagePosted ?? result.conversationChanged;
  return event?.message ? { cursor: event.cursor, message: event.message.id } : event;
}

function localIdOf(globalId: string): string {
  return Buffer.from(globalId, 'base64url').toString('utf8').replace(/^\w+:/, '');
}
