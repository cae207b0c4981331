import { buildSchema, parse } from 'graphql';
import { describe, expect, it } from 'vitest';
import type { RequestContext } from '../../src/graphql/request-context.js';
import type { RealtimeEventRow } from '../../src/modules/realtime/rows.js';
import type { Subscriber } from '../../src/realtime/subscriber.js';
import { SharedExecutions } from '../../src/realtime/tenant-feed.js';

// A schema whose one field counts how often it is resolved: the executions a batch actually runs.
let resolved = 0;
const schema = buildSchema('type Query { ping: Int } type Subscription { tick: Int }');
(schema.getSubscriptionType()!.getFields().tick as { resolve?: () => number }).resolve = () => ++resolved;

function subscriber(executionKey: string): Subscriber {
  return { init: { executionKey, document: parse('subscription { tick }'), variables: {}, operationName: null } } as unknown as Subscriber;
}

const event = (position: string) => ({ position }) as RealtimeEventRow;

describe('SharedExecutions', () => {
  it('executes once per event and key, and apart for another key or event', async () => {
    resolved = 0;
    const executions = new SharedExecutions(schema, {} as RequestContext);
    const [a, b, other] = [subscriber('k'), subscriber('k'), subscriber('other')];
    const first = await Promise.all([executions.resultFor(a, event('1'), 'c1'), executions.resultFor(b, event('1'), 'c1')]);
    expect(first[0]).toBe(first[1]);
    expect(resolved).toBe(1);
    await executions.resultFor(other, event('1'), 'c1');
    await executions.resultFor(a, event('2'), 'c2');
    expect(resolved).toBe(3);
  });

  it('keeps at most MAX_SHARED_RESULTS results; beyond, documents run unshared', async () => {
    resolved = 0;
    const executions = new SharedExecutions(schema, {} as RequestContext);
    for (let i = 0; i < SharedExecutions.MAX_SHARED_RESULTS; i++) await executions.resultFor(subscriber(`k${i}`), event('1'), 'c');
    const beyond = subscriber('beyond');
    await executions.resultFor(beyond, event('1'), 'c');
    await executions.resultFor(beyond, event('1'), 'c');
    expect(resolved).toBe(SharedExecutions.MAX_SHARED_RESULTS + 2);
  });
});
