import type { Resolvers } from '../__generated__/resolvers.js';
import { auditResolvers } from './audit/resolvers.js';
import { conversationResolvers } from './conversations/resolvers.js';
import { messageResolvers } from './messages/resolvers.js';
import { nodeResolvers } from './node/resolvers.js';
import { tenancyResolvers } from './tenancy/resolvers.js';

/** Every module's resolvers, merged per type. */
export function allResolvers(): Resolvers {
  const merged: Record<string, Record<string, unknown>> = {};
  for (const module of [nodeResolvers, tenancyResolvers, conversationResolvers, messageResolvers, auditResolvers]) {
    for (const [type, fields] of Object.entries(module)) {
      merged[type] = { ...merged[type], ...(fields as Record<string, unknown>) };
    }
  }
  return merged as Resolvers;
}
