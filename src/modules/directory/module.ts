import { forward } from '../access-path.js';
import type { DomainModule, NodeTypes } from '../domain-module.js';
import { createDirectoryLoaders } from './loaders.js';
import { countUsersQuery, findCurrentTenantQuery, findUsersByIdsQuery, listUsersQuery } from './queries.js';
import { directoryResolvers } from './resolvers.js';

// Annotated, not inferred: the loaders' types are derived from this module, so inference would go in a circle.
const nodeTypes: NodeTypes = {
  Tenant: (id, context) => context.loaders.tenantById.load(id),
  User: (id, context) => context.loaders.userById.load(id),
};

/** Tenants and their members (schema/directory.graphql). */
export const directoryModule = {
  name: 'directory',
  resolvers: directoryResolvers,
  createLoaders: createDirectoryLoaders,
  nodeTypes,
  accessPaths: [
    { name: 'findCurrentTenant', query: (tx) => findCurrentTenantQuery(tx) },
    { name: 'listUsers', query: (tx) => listUsersQuery(tx, forward(null)) },
    { name: 'countUsers', query: (tx) => countUsersQuery(tx) },
    { name: 'findUsersByIds', query: (tx, s) => findUsersByIdsQuery(tx, s.userIds) },
  ],
  uniqueViolations: {
    users_tenant_email_key: { sentence: 'A user with this email already exists in your tenant.', field: 'email' },
  },
} satisfies DomainModule<ReturnType<typeof createDirectoryLoaders>>;
