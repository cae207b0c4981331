import fc from 'fast-check';
import type { ScenarioShape } from './operation-specs.js';

/**
 * What the scenario's subscribers do, generated beside its waves (issue 12 §3). Like the operation specs, they
 * hold indices, resolved against the model only when they run, so fast-check can shrink them by dropping one.
 *
 * A subscriber is one member of one tenant with one graphql-ws socket; each action happens just before the wave
 * it names (modulo the number of waves), with nothing in flight.
 */

/**
 * The `after` of a subscription: none; the caller's tenant's position before an earlier wave (`back` waves back),
 * so that the subscription first replays; or another tenant's cursor (one its subscribers received, else one of
 * its positions).
 */
export type AfterRef = null | { from: 'own'; back: number } | { from: 'foreign'; pick: number };

export type SubscriberAction =
  | {
      act: 'subscribe';
      tenant: number;
      user: number;
      field: 'messagePosted';
      conversation: { from: 'own' | 'foreign'; pick: number };
      after: AfterRef;
    }
  | { act: 'subscribe'; tenant: number; user: number; field: 'conversationChanged'; after: AfterRef }
  /**
   * One socket (by index among those with live subscriptions) disconnects and resubscribes with its last cursors:
   * before the wave, or while the wave's writes are in flight (`during`), so that it must replay what it missed.
   */
  | { act: 'resume'; pick: number; during: boolean }
  /**
   * Writers of a subscriber's tenant post `count` messages at once, in the wave, to the conversation of one of its
   * live subscriptions (picked among them): commit order then differs from statement order under its eyes.
   */
  | { act: 'burst'; pick: number; count: number; users: number[] };

export interface PlannedAction {
  /** Before which wave (modulo the waves) the action runs. */
  wave: number;
  action: SubscriberAction;
}

const pick = fc.nat({ max: 1_000 });
const caller = { tenant: fc.nat({ max: 7 }), user: fc.nat({ max: 7 }) };

const after: fc.Arbitrary<AfterRef> = fc.oneof(
  { weight: 4, arbitrary: fc.constant(null) },
  { weight: 3, arbitrary: fc.record({ from: fc.constant('own' as const), back: fc.nat({ max: 4 }) }) },
  { weight: 2, arbitrary: fc.record({ from: fc.constant('foreign' as const), pick }) },
);

export const subscriberAction: fc.Arbitrary<SubscriberAction> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      act: fc.constant('subscribe' as const),
      ...caller,
      field: fc.constant('messagePosted' as const),
      conversation: fc.record({ from: fc.constantFrom('own' as const, 'own' as const, 'foreign' as const), pick }),
      after,
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ act: fc.constant('subscribe' as const), ...caller, field: fc.constant('conversationChanged' as const), after }),
  },
  { weight: 4, arbitrary: fc.record({ act: fc.constant('resume' as const), pick, during: fc.boolean() }) },
  {
    weight: 4,
    arbitrary: fc.record({
      act: fc.constant('burst' as const),
      pick,
      count: fc.integer({ min: 1, max: 6 }),
      users: fc.array(fc.nat({ max: 7 }), { minLength: 6, maxLength: 6 }),
    }),
  },
);

/** A scenario's subscriber actions: a few per run, spread over its waves. */
export function subscriberPlanSpec(shape: ScenarioShape): fc.Arbitrary<PlannedAction[]> {
  return fc.array(fc.record({ wave: fc.nat({ max: shape.maxWaves - 1 }), action: subscriberAction }), { maxLength: 16 });
}
