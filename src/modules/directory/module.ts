import { randomUUID } from 'node:crypto';
import { forward } from '../access-path.js';
import type { DomainModule, NodeTypes } from '../domain-module.js';
import { createDirectoryLoaders } from './loaders.js';
import { countUsersQuery, findCurrentTenantQuery, findUsersByIdsQuery, insertUserQuery, listUsersQuery } from './queries.js';
import { directoryResolvers } from './resolvers.js';

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
    {
      name: 'insertUser',
      write: true,
      // A fresh address each time: `cli explain` runs it (rolled back), and a taken one would abort the transaction.
      query: (tx) => insertUserQuery(tx, { email: `explain-${randomUUID()}@example.invalid`, displayName: 'cli explain', role: 'MEMBER' }),
    },
  ],
  uniqueViolations: {
    users_tenant_email_key: { sentence: 'A user with this email already exists in your tenant.', field: 'email' },
  },
} satisfies DomainModule<ReturnType<typeof createDirectoryLoaders>>;
