import { createClient, type Client } from 'graphql-ws';
import type pg from 'pg';
import WebSocket from 'ws';
import { encodeEventCursor } from '../../src/realtime/event-cursor.js';
import { bearer, eventually, socketUrl } from '../support/realtime-client.js';
import * as doc from './documents.js';
import type { RunState } from './operation.js';
import type { OperationSpec } from './operation-specs.js';
import { pool as referencePool } from './resolve-references.js';
import { fail } from './page-checks.js';
import type { PlannedAction, SubscriberAction } from './subscriber-specs.js';
import type { TenantModel, UserModel } from './tenant-model.js';

/**
 * The scenario's subscribers (issue 12 §3): members of the run's tenants, each with a real graphql-ws client on a
 * real socket to the server the waves write through. They subscribe to their own conversations and to other
 * tenants', with their own tenant's cursors and with other tenants', and some disconnect and resume with the last
 * cursor they received. Every frame a socket receives is kept as raw text for the leak scan; what is checked at
 * the end of the run is in delivery-checks.ts.
 */

export interface RealtimeDependencies {
  /** The server's HTTP URL; its sockets are on the same path. */
  url: string;
  /** The server's count of live subscriptions of a tenant: how a start without `after` is known to have happened. */
  subscriptionsOf(tenantId: string): number;
  /** Called with every document subscribed, for the root-field coverage. */
  recordDocument(query: string): void;
}

export interface FuzzSocket {
  tenant: TenantModel;
  user: UserModel;
  label: string;
  client: Client;
  /** Every frame received, as sent by the server, across reconnections. */
  frames: string[];
  /** Every variables object sent on the socket: an error may echo what its own request sent. */
  sent: Record<string, unknown>[];
  /** Close codes the server (or the client's dispose) ended connections with. */
  closes: number[];
}

export interface FuzzSubscription {
  label: string;
  socket: FuzzSocket;
  field: 'messagePosted' | 'conversationChanged';
  /** The conversation followed (messagePosted), with the tenant that owns it. */
  conversation: { id: string; tenant: TenantModel } | null;
  /** A foreign conversation or a foreign cursor: the server must refuse it, or deliver nothing. */
  foreign: boolean;
  /** The variables of the first subscribe. */
  variables: Record<string, unknown>;
  /** Entitled to the events of the waves after this boundary (boundary i: before wave i + 1 ran). */
  since: number;
  /** Its cursor at `since` (own subscriptions): where a resume starts when nothing was received yet. */
  sinceCursor: string | null;
  /** Results received, across resumes, in arrival order. */
  data: any[];
  errors: any[];
  /** Ended by the server (error or complete), not by a resume. */
  ended: boolean;
  resumes: number;
  /** The current subscribe's identity; null while a resume is under way. */
  generation: object | null;
}

/** Per-socket subscriptions kept under the server's default limit of 20 (REALTIME_MAX_SUBSCRIPTIONS_PER_SOCKET). */
const MAX_PER_SOCKET = 12;
const START_TIMEOUT_MS = 30_000;

export class SubscriberPool {
  readonly sockets: FuzzSocket[] = [];
  readonly subscriptions: FuzzSubscription[] = [];
  /** By boundary: tenant id -> the tenant's newest event position then. */
  private readonly heads: Map<string, string>[] = [];
  private readonly listeners = new Set<() => void>();
  /** Sockets disconnected before the wave that reconnect once its writes are in flight. */
  private reconnecting: FuzzSocket[] = [];

  constructor(
    private readonly deps: RealtimeDependencies,
    private readonly owner: pg.Client,
    private readonly state: RunState,
    private readonly plan: readonly PlannedAction[],
    private readonly waves: number,
  ) {}

  /**
   * Runs the actions planned before wave `index` + 1, with nothing else in flight. Returns the operations that
   * bursts add to the wave.
   */
  async beforeWave(index: number): Promise<OperationSpec[]> {
    if (this.plan.length === 0) return [];
    this.heads[index] = await this.readHeads();
    const actions = index < this.waves ? this.plan.filter((p) => p.wave % this.waves === index).map((p) => p.action) : [];
    if (actions.length === 0) return [];
    const resumed = new Set<FuzzSocket>();
    const during = new Set<FuzzSocket>();
    for (const action of actions) {
      if (action.act !== 'resume') continue;
      const candidates = this.sockets.filter((s) => this.liveOwn(s).length > 0);
      const socket = candidates[action.pick % candidates.length];
      if (socket) (action.during ? during : resumed).add(socket);
    }
    for (const socket of resumed) during.delete(socket);
    for (const socket of [...resumed, ...during]) {
      // Foreign subscriptions still pending stay as they are: "nothing" is an allowed answer for them.
      for (const sub of this.subscriptions.filter((s) => s.socket === socket && !s.ended)) {
        sub.generation = null;
        sub.resumes += sub.foreign ? 0 : 1;
      }
      await socket.client.dispose();
    }
    // Old subscriptions gone from the server before new ones are counted.
    await this.settled((count, live) => count === live, 'the server to drop the resumed sockets');
    for (const socket of resumed) this.reconnect(socket);
    this.reconnecting = [...during];
    for (const action of actions) if (action.act === 'subscribe') this.subscribe(action, index);
    // A subscription without `after` starts at its tenant's head when the server registers it: wait for that, so
    // that it is entitled to exactly the waves after this boundary. (Refused ones never count.)
    await this.settled((count, live) => count >= live, 'every new subscription to start');
    return actions.flatMap((action) => (action.act === 'burst' ? this.burst(action) : []));
  }

  /** postMessage operations, through the normal model, into the conversation of a live own subscription. */
  private burst(action: Extract<SubscriberAction, { act: 'burst' }>): OperationSpec[] {
    const rooms = this.subscriptions.filter((s) => s.conversation && !s.foreign && !s.ended);
    const sub = rooms[action.pick % Math.max(rooms.length, 1)];
    if (!sub) return [];
    const { tenant } = sub.socket;
    // The index resolveId will map back to this conversation (the wave's references resolve before it writes).
    const pick = referencePool(this.state.tenants, tenant, 'own', 'Conversation').findIndex((c) => c.id === sub.conversation!.id);
    return action.users.slice(0, action.count).map((user) => ({
      op: 'postMessage' as const,
      tenant: tenant.index,
      user,
      conversation: { from: 'own' as const, kind: 'Conversation' as const, pick },
      body: { kind: 'words' as const, words: ['alpha'], pad: 0 },
    }));
  }

  /**
   * Called as the wave's requests are sent: the sockets of `during` resumes reconnect now, racing the writes.
   * Their subscriptions carry a cursor, so where they start does not depend on when the server registers them;
   * the next boundary waits for them like for any live subscription.
   */
  duringWave(): void {
    for (const socket of this.reconnecting) this.reconnect(socket);
    this.reconnecting = [];
  }

  /** A new socket for a resumed one; each of its own subscriptions resubscribes after the last cursor it received. */
  private reconnect(socket: FuzzSocket): void {
    socket.client = this.connect(socket);
    for (const sub of this.liveOwn(socket)) {
      const last = sub.data.length > 0 ? cursorOf(sub.data[sub.data.length - 1]) : sub.sinceCursor;
      this.start(sub, { ...sub.variables, after: last });
    }
  }

  /** Resolves when a result arrives on any subscription. */
  nextEvent(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.listeners.delete(done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      this.listeners.add(done);
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.sockets.map((socket) => socket.client.dispose()));
  }

  liveOwn(socket: FuzzSocket): FuzzSubscription[] {
    return this.subscriptions.filter((s) => s.socket === socket && !s.foreign && !s.ended);
  }

  private subscribe(action: Extract<SubscriberAction, { act: 'subscribe' }>, index: number): void {
    const { tenants } = this.state;
    const tenant = tenants[action.tenant % tenants.length]!;
    const user = tenant.users[action.user % tenant.users.length]!;
    const socket = this.socketOf(tenant, user);
    // A socket that reconnects during the wave subscribes again then; a new subscription waits for another action.
    if (this.reconnecting.includes(socket)) return;
    if (this.subscriptions.filter((s) => s.socket === socket).length >= MAX_PER_SOCKET) return;
    const other = (pick: number) => tenants[(tenant.index + 1 + (pick % (tenants.length - 1))) % tenants.length]!;

    let after: string | null = null;
    let since = index;
    let foreignCursor = false;
    if (action.after?.from === 'own') {
      since = Math.max(0, index - action.after.back);
      after = this.cursorAt(tenant, since);
    } else if (action.after?.from === 'foreign') {
      const theirs = other(action.after.pick);
      const received = this.subscriptions.filter((s) => s.socket.tenant === theirs).flatMap((s) => s.data.map(cursorOf));
      after = received.length > 0 ? received[action.after.pick % received.length]! : this.cursorAt(theirs, index);
      foreignCursor = true;
    }
    let conversation: FuzzSubscription['conversation'] = null;
    if (action.field === 'messagePosted') {
      const owner = action.conversation.from === 'own' ? tenant : other(action.conversation.pick);
      const target = owner.conversations[action.conversation.pick % owner.conversations.length]!;
      conversation = { id: target.id, tenant: owner };
    }
    const foreign = foreignCursor || (conversation !== null && conversation.tenant !== tenant);
    const variables: Record<string, unknown> = conversation ? { conversationId: conversation.id, after } : { after };
    const whose = (t: TenantModel) => (t === tenant ? 'own' : `foreign (${t.marker})`);
    const sub: FuzzSubscription = {
      label:
        `${socket.label} ${action.field}(` +
        `${conversation ? `conversation: ${whose(conversation.tenant)}, ` : ''}after: ${action.after ? `${action.after.from}` : 'none'}) before wave ${index + 1}`,
      socket,
      field: action.field,
      conversation,
      foreign,
      variables,
      since,
      sinceCursor: foreign ? null : this.cursorAt(tenant, since),
      data: [],
      errors: [],
      ended: false,
      resumes: 0,
      generation: null,
    };
    this.subscriptions.push(sub);
    this.start(sub, variables);
  }

  private start(sub: FuzzSubscription, variables: Record<string, unknown>): void {
    const query = sub.field === 'messagePosted' ? doc.MESSAGE_POSTED : doc.CONVERSATION_CHANGED;
    this.deps.recordDocument(query);
    sub.socket.sent.push(variables);
    // Results of an earlier subscribe of a resumed subscription are kept; its end (the resume's close) is not.
    const generation = {};
    sub.generation = generation;
    sub.socket.client.subscribe(
      { query, variables },
      {
        next: (result) => {
          if (result.errors) sub.errors.push(...result.errors);
          if (result.data) sub.data.push(result.data);
          this.notify();
        },
        error: (error) => {
          // The close of a resume is not the server's answer.
          if (sub.generation !== generation) return;
          sub.errors.push(...(Array.isArray(error) ? error : [serializable(error)]));
          sub.ended = true;
          this.notify();
        },
        complete: () => {
          if (sub.generation !== generation) return;
          sub.ended = true;
          this.notify();
        },
      },
    );
  }

  private socketOf(tenant: TenantModel, user: UserModel): FuzzSocket {
    const existing = this.sockets.find((s) => s.tenant === tenant && s.user === user);
    if (existing) return existing;
    const socket = {
      tenant,
      user,
      label: `subscriber ${tenant.marker}/${user.role}#${tenant.users.indexOf(user)}`,
      frames: [],
      sent: [],
      closes: [],
    } as unknown as FuzzSocket;
    socket.client = this.connect(socket);
    this.sockets.push(socket);
    return socket;
  }

  /** A graphql-ws client (the library browsers use) on a socket that keeps every frame's raw text. */
  private connect(socket: FuzzSocket): Client {
    const { frames } = socket;
    class RecordingWebSocket extends WebSocket {
      constructor(address: string, protocols?: string | string[]) {
        super(address, protocols);
        // Registered before graphql-ws sets onmessage, so each frame is kept before it is parsed.
        this.on('message', (data) => frames.push(String(data)));
      }
    }
    return createClient({
      url: socketUrl({ url: this.deps.url }),
      webSocketImpl: RecordingWebSocket,
      lazy: false,
      retryAttempts: 0,
      connectionParams: bearer(socket.user.token),
      onNonLazyError: () => {},
      on: { closed: (event) => socket.closes.push((event as { code: number }).code) },
    });
  }

  private cursorAt(tenant: TenantModel, boundary: number): string {
    const position = this.heads[boundary]?.get(tenant.tenantId) ?? fail(`no recorded position of ${tenant.marker} at boundary ${boundary}`);
    return encodeEventCursor(tenant.tenantId, position);
  }

  /** Each run tenant's newest event position, read as the owner (realtime_positions is the per-tenant counter). */
  private async readHeads(): Promise<Map<string, string>> {
    const ids = this.state.tenants.map((t) => t.tenantId);
    const { rows } = await this.owner.query<{ tenant_id: string; position: string }>(
      'select tenant_id::text, position::text from realtime_positions where tenant_id = any($1::bigint[])',
      [ids],
    );
    return new Map(ids.map((id) => [id, rows.find((row) => row.tenant_id === id)?.position ?? '0']));
  }

  /** Waits until, for every tenant, the server's live subscriptions and the pool's own live ones satisfy `ok`. */
  private async settled(ok: (count: number, live: number) => boolean, what: string): Promise<void> {
    const counts = () =>
      this.state.tenants.map((tenant) => ({
        tenant: tenant.marker,
        server: this.deps.subscriptionsOf(tenant.tenantId),
        // Connected ones only: a resumed socket's subscriptions count again once they resubscribed.
        live: this.subscriptions.filter((s) => s.socket.tenant === tenant && !s.foreign && !s.ended && s.generation !== null).length,
      }));
    try {
      await eventually(() => counts().every(({ server, live }) => ok(server, live)), what, START_TIMEOUT_MS);
    } catch {
      fail(`realtime: timed out after ${START_TIMEOUT_MS} ms waiting for ${what}`, {
        counts: counts(),
        errors: this.subscriptions.filter((s) => s.errors.length > 0).map((s) => ({ label: s.label, errors: s.errors })),
      });
    }
  }

  private notify(): void {
    for (const listener of [...this.listeners]) listener();
  }
}

export function cursorOf(result: any): string {
  return (result.messagePosted ?? result.conversationChanged).cursor;
}

function serializable(error: unknown): unknown {
  if (error instanceof Error) return { message: error.message };
  if (error && typeof error === 'object' && 'code' in error) {
    const { code, reason } = error as { code: number; reason?: unknown };
    return { message: `socket closed ${code} ${String(reason ?? '')}`, extensions: { code: `CLOSE_${code}` } };
  }
  return error;
}
