import type { DomainModule } from '../domain-module.js';
import { realtimeResolvers } from './resolvers.js';

/**
 * Subscription payloads (schema/realtime.graphql). The events are written by triggers (migrations/0010) and
 * delivered by src/realtime/; this module owns the event types' resolvers, which load payloads through the
 * normal loaders (primed by the delivery batch).
 */
export const realtimeModule = {
  name: 'realtime',
  resolvers: realtimeResolvers,
} satisfies DomainModule;
