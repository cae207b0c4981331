import { parse } from 'graphql';
import { describe, expect, it } from 'vitest';
import { decodeEventCursor, encodeEventCursor } from '../../src/realtime/event-cursor.js';
import { Subscriber } from '../../src/realtime/subscriber.js';

function subscriber(bounds: { events: number; bytes: number }, log: string[] = []) {
  return new Subscriber({
    requestId: 'r',
    principal: { tenantId: '1', userId: '00000000-0000-4000-8000-000000000001' },
    field: 'conversationChanged',
    conversationId: null,
    position: 0n,
    document: parse('subscription { conversationChanged { cursor } }'),
    operationName: null,
    variables: {},
    executionKey: 'k',
    maxQueuedEvents: bounds.events,
    maxQueuedBytes: bounds.bytes,
    onEnd: (_s, reason) => log.push(`end:${reason}`),
    onHandOver: () => log.push('handover'),
    onRoom: () => log.push('room'),
  });
}

describe('event cursors', () => {
  it("round-trips a position for its tenant and is null for another tenant's or a malformed cursor", () => {
    const cursor = encodeEventCursor('123456789012', '42');
    expect(decodeEventCursor(cursor, '123456789012')).toBe('42');
    expect(decodeEventCursor(cursor, '123456789013')).toBeNull();
    for (const bad of ['', 'x', Buffer.from('rt1:1:-1').toString('base64url'), Buffer.from('rt1:0:1').toString('base64url'), 'a'.repeat(200)]) {
      expect(decodeEventCursor(bad, '1')).toBeNull();
    }
  });
});

describe('Subscriber', () => {
  it('is full at its event bound, tells the feed when it has room again, and hands results over in order', async () => {
    const log: string[] = [];
    const sub = subscriber({ events: 2, bytes: 1_000_000 }, log);
    expect(sub.push({ data: { n: 1 } }, '')).toBe(true);
    expect(sub.full).toBe(false);
    sub.push({ data: { n: 2 } }, '');
    expect(sub.full).toBe(true);
    expect(sub.fullSince).toBeDefined();
    expect((await sub.next()).value).toEqual({ data: { n: 1 } });
    expect(sub.full).toBe(false);
    expect(log).toEqual(['handover', 'room']);
    expect((await sub.next()).value).toEqual({ data: { n: 2 } });
  });

  it('is full at its byte bound', () => {
    const sub = subscriber({ events: 100, bytes: 50 });
    sub.push({ data: { body: 'x'.repeat(60) } }, '');
    expect(sub.full).toBe(true);
    expect(sub.queued).toBe(1);
  });

  it('ends at once on return(), also while next() waits, and drops what was queued', async () => {
    const log: string[] = [];
    const sub = subscriber({ events: 5, bytes: 1_000_000 }, log);
    const waiting = sub.next();
    await sub.return();
    expect(await waiting).toEqual({ value: undefined, done: true });
    expect(sub.push({ data: {} }, '')).toBe(false);
    expect(log).toEqual(['end:completed']);
  });

  it('delivers queued results before a failure, then rejects with it', async () => {
    const sub = subscriber({ events: 5, bytes: 1_000_000 });
    sub.push({ data: { n: 1 } }, '');
    sub.fail(new Error('expired'), 'cursor_expired');
    expect((await sub.next()).value).toEqual({ data: { n: 1 } });
    await expect(sub.next()).rejects.toThrow('expired');
    expect(await sub.next()).toEqual({ value: undefined, done: true });
  });
});
