import type { Resolvers } from '../__generated__/resolvers.js';
import { dateTimeScalar } from '../graphql/date-time-scalar.js';
import { auditResolvers } from './audit/resolvers.js';
import { conversationResolvers } from './conversations/resolvers.js';
import { messageResolvers } from './messages/resolvers.js';
import { nodeResolvers } from './node/resolvers.js';
import { tenancyResolvers } from './tenancy/resolvers.js';

/** Every module's resolvers, merged per type, and the custom scalars of schema/base.graphql. */
export function allResolvers(): Resolvers {
  const merged: Record<string, Record<string, unknown>> = {};
  for (const module of [nodeResolvers, tenancyResolvers, conversationResolvers, messageResolvers, auditResolvers]) {
    for (const [type, fields] of Object.entries(module)) {
      merged[type] = { ...merged[type], ...(fields as Record<string, unknown>) };
    }
  }
  // graphql-tools reads `__`-prefixed scalar resolvers; the generated type only knows GraphQLScalarType.
  return { ...merged, DateTime: dateTimeScalar as unknown as Resolvers['DateTime'] } as Resolvers;
}
