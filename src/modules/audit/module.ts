import { forward } from '../access-path.js';
import type { DomainModule } from '../domain-module.js';
import { listAuditEventsQuery } from './queries.js';
import { auditResolvers } from './resolvers.js';

/** The tenant's audit trail (schema/audit.graphql); its rows are written by src/audit/, not by resolvers. */
export const auditModule = {
  name: 'audit',
  resolvers: auditResolvers,
  accessPaths: [{ name: 'listAuditEvents', query: (tx) => listAuditEventsQuery(tx, {}, forward(null)) }],
} satisfies DomainModule;
