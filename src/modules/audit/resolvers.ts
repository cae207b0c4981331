import type { AuditOperationType, AuditOutcome } from '../../__generated__/resolvers.js';
import type { Resolvers } from '../../__generated__/resolvers.js';
import { ForbiddenError } from '../../errors/app-error.js';
import { connectionResolvers, pageWindow, parsePageRequest, toConnection } from '../../graphql/connection.js';
import { decodeGlobalId, encodeGlobalId } from '../../graphql/global-id.js';
import { viewerOf } from '../../graphql/request-context.js';
import { toIsoTimestamp } from '../../graphql/row-values.js';
import { listAuditEvents } from './queries.js';

export const auditResolvers = {
  Query: {
    auditEvents: async (_parent, args, context) => {
      const page = parsePageRequest(args);
      const viewer = await context.loaders.userById.load((await viewerOf(context)).userId);
      if (viewer?.role !== 'ADMIN') throw new ForbiddenError('Only ADMINs may read the audit trail.');
      const since = args.filter?.since;
      const rows = await listAuditEvents(
        await context.tx(),
        {
          userId: args.filter?.userId ? decodeGlobalId(args.filter.userId, 'User', 'userId').localId : null,
          operationType: args.filter?.operationType?.toLowerCase() ?? null,
          since: since ?? null,
        },
        pageWindow(page),
      );
      return toConnection(rows, page, () => 0);
    },
  },
  AuditEvent: {
    id: (event) => encodeGlobalId('AuditEvent', event.id),
    occurredAt: (event) => toIsoTimestamp(event.created_at),
    userId: (event) => (event.user_id ? encodeGlobalId('User', event.user_id) : null),
    user: (event, _args, context) => (event.user_id ? context.loaders.userById.load(event.user_id) : null),
    requestId: (event) => event.request_id,
    operationType: (event) => (event.operation_type?.toUpperCase() as AuditOperationType | undefined) ?? null,
    operationName: (event) => event.operation_name,
    outcome: (event) => event.outcome.toUpperCase() as AuditOutcome,
    durationMs: (event) => event.duration_ms,
    detail: (event) => event.detail,
    eventsDelivered: (event) => event.events_delivered,
  },
  // No totalCount: counting a tenant's whole trail on every page would grow without bound.
  AuditEventConnection: { edges: connectionResolvers.edges, nodes: connectionResolvers.nodes, pageInfo: connectionResolvers.pageInfo },
  AuditEventEdge: {},
} satisfies Resolvers;
