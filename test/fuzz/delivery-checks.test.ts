import { describe, expect, it } from 'vitest';
import { encodeEventCursor } from '../../src/realtime/event-cursor.js';
import { checkSubscription, type Sentinels } from './delivery-checks.js';
import type { FuzzSocket, FuzzSubscription } from './subscribers.js';
import type { MessageModel, TenantModel } from './tenant-model.js';

// The subscribers' checks are only as good as their verdicts: these feed them deliveries that are wrong on purpose.

const TENANT_ID = '418273645091';
const ROOM = 'Q29udmVyc2F0aW9uOnJvb20';
const SENTINEL = 'TWVzc2FnZTpzZW50aW5lbA';

function message(id: string, wave: number): MessageModel {
  const base = { localId: id, seq: wave, wave, confirmed: true, cursor: null, createdAt: '', authorId: 'u' };
  return { ...base, id, body: `body ${id}`, conversationId: ROOM };
}

/** m1 before the start (wave 1), then m2 and m3 in wave 2, m4 in wave 3 (the model keeps them newest first). */
const tenant: TenantModel = {
  index: 0,
  marker: 'fz00000000t0',
  tenantId: TENANT_ID,
  globalId: 'VGVuYW50OjE',
  name: 'tenant',
  users: [],
  auditEvents: [],
  conversations: [
    {
      id: ROOM,
      localId: 'room',
      seq: 0,
      wave: 0,
      confirmed: true,
      cursor: null,
      title: 'room',
      archived: false,
      createdAt: '',
      createdById: 'u',
      messages: [message('m4', 3), message('m3', 2), message('m2', 2), message('m1', 1)],
    },
  ],
};
const sentinels: Sentinels = { messages: new Map([[ROOM, SENTINEL]]), conversations: new Map() };

function subscription(ids: string[], options: { foreign?: boolean; errors?: unknown[]; positions?: number[] } = {}): FuzzSubscription {
  const body = (id: string) => (id === SENTINEL ? `${tenant.marker} sentinel` : `body ${id}`);
  return {
    label: 'subscriber',
    socket: { tenant } as FuzzSocket,
    field: 'messagePosted',
    conversation: { id: ROOM, tenant },
    foreign: options.foreign ?? false,
    variables: {},
    // Entitled to the waves after the first: m2, m3, m4, then the sentinel.
    since: 1,
    sinceCursor: null,
    data: ids.map((id, i) => ({
      messagePosted: {
        cursor: encodeEventCursor(TENANT_ID, String(options.positions?.[i] ?? i + 10)),
        message: { id, body: body(id), conversation: { id: ROOM } },
      },
    })),
    errors: options.errors ?? [],
    ended: false,
    resumes: 0,
    generation: null,
  };
}

describe('checkSubscription', () => {
  it('accepts every entitled message once, wave by wave, in any order within a wave', () => {
    expect(() => checkSubscription(subscription(['m2', 'm3', 'm4', SENTINEL]), sentinels)).not.toThrow();
    expect(() => checkSubscription(subscription(['m3', 'm2', 'm4', SENTINEL]), sentinels)).not.toThrow();
  });

  it('fails on a duplicate, a gap, a message from before the start and a wave out of order', () => {
    expect(() => checkSubscription(subscription(['m2', 'm3', 'm3', 'm4', SENTINEL]), sentinels)).toThrow(/twice/);
    expect(() => checkSubscription(subscription(['m2', 'm4', SENTINEL]), sentinels)).toThrow(/missed 1 message/);
    expect(() => checkSubscription(subscription(['m1', 'm2', 'm3', 'm4', SENTINEL]), sentinels)).toThrow(/not entitled/);
    expect(() => checkSubscription(subscription(['m4', 'm2', 'm3', SENTINEL]), sentinels)).toThrow(/wave order/);
  });

  it('fails when cursors repeat or go back (a resume that replays what was delivered)', () => {
    expect(() => checkSubscription(subscription(['m2', 'm3', 'm4', SENTINEL], { positions: [5, 6, 6, 7] }), sentinels)).toThrow(/strictly increase/);
  });

  it('fails an own subscription that the server ended with an error', () => {
    const errors = [{ message: 'expired', extensions: { code: 'CURSOR_EXPIRED' } }];
    expect(() => checkSubscription(subscription(['m2', 'm3', 'm4', SENTINEL], { errors }), sentinels)).toThrow(/own subscription failed/);
  });

  it('accepts a refusal or silence for a foreign conversation or cursor, never an event', () => {
    const notFound = [{ message: 'No conversation', extensions: { code: 'NOT_FOUND' } }];
    expect(() => checkSubscription(subscription([], { foreign: true, errors: notFound }), sentinels)).not.toThrow();
    expect(() => checkSubscription(subscription([], { foreign: true }), sentinels)).not.toThrow();
    expect(() => checkSubscription(subscription(['m2'], { foreign: true }), sentinels)).toThrow(/LEAK/);
    const internal = [{ message: 'boom', extensions: { code: 'INTERNAL_SERVER_ERROR' } }];
    expect(() => checkSubscription(subscription([], { foreign: true, errors: internal }), sentinels)).toThrow(/NOT_FOUND or BAD_USER_INPUT/);
  });
});
