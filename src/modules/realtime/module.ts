import { rawStatement } from '../access-path.js';
import type { DomainModule } from '../domain-module.js';
import { findSubscriptionStartQuery, pruneEventsQuery, readEventBatchQuery } from './queries.js';
import { realtimeResolvers } from './resolvers.js';

/**
 * Subscription payloads (schema/realtime.graphql). The events are written by triggers (migrations/0010) and
 * delivered by src/realtime/; this module owns the event types' resolvers, which load payloads through the
 * normal loaders (primed by the delivery batch).
 */
export const realtimeModule = {
  name: 'realtime',
  resolvers: realtimeResolvers,
  accessPaths: [
    { name: 'readEventBatch', query: (tx, s) => rawStatement(tx, readEventBatchQuery(tx, '0', 100, s.userIds)) },
    { name: 'findSubscriptionStart', query: (tx, s) => rawStatement(tx, findSubscriptionStartQuery(s.conversation.id, '0')) },
    { name: 'pruneEvents', write: true, query: (tx) => rawStatement(tx, pruneEventsQuery(10_000, 86_400_000)) },
  ],
} satisfies DomainModule;
