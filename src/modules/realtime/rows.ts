import type { Selectable } from 'kysely';
import type { RealtimeEvents } from '../../__generated__/database.js';

export type RealtimeEventRow = Selectable<RealtimeEvents>;

/** The parent of a subscription event type: the event row (ids and kind only) and its opaque cursor. */
export interface RealtimeEventParent {
  readonly event: RealtimeEventRow;
  readonly cursor: string;
}

/** The parents of the two event types (codegen mappers; one shape for both). */
export type MessagePostedEventParent = RealtimeEventParent;
export type ConversationChangedEventParent = RealtimeEventParent;
