import type { Resolvers } from '../../__generated__/resolvers.js';
import { ForbiddenError } from '../../errors/app-error.js';
import { connectionResolvers, pageWindow, parsePageRequest, toConnection } from '../../graphql/connection.js';
import { encodeGlobalId } from '../../graphql/global-id.js';
import { viewerOf } from '../../graphql/request-context.js';
import { normalizeEmail, requireText } from '../../graphql/input.js';
import { countUsers, insertUser, listUsers } from './queries.js';

export const directoryResolvers = {
  Query: {
    viewer: () => ({}),
    users: async (_parent, args, context) => {
      const page = parsePageRequest(args);
      const rows = await listUsers(await context.tx(), pageWindow(page));
      return toConnection(rows, page, async () => countUsers(await context.tx()));
    },
  },
  Mutation: {
    inviteUser: async (_parent, { input }, context) => {
      const viewer = await context.loaders.userById.load((await viewerOf(context)).userId);
      if (viewer?.role !== 'ADMIN') throw new ForbiddenError('Only ADMINs may invite users.');
      const user = await insertUser(await context.tx(), {
        email: normalizeEmail(input.email),
        displayName: requireText(input.displayName, 'displayName', 200),
        role: input.role ?? 'MEMBER',
      });
      return { user };
    },
  },
  Viewer: {
    user: async (_parent, _args, context) => {
      const user = await context.loaders.userById.load((await viewerOf(context)).userId);
      // The transaction prologue already refused non-members, so this is a server bug if it happens.
      if (!user) throw new Error('The viewer is not a member of the tenant');
      return user;
    },
    tenant: async (_parent, _args, context) => {
      const tenant = await context.loaders.tenantById.load((await viewerOf(context)).tenantId);
      if (!tenant) throw new Error("The viewer's tenant does not exist");
      return tenant;
    },
  },
  Tenant: {
    id: (tenant) => encodeGlobalId('Tenant', tenant.id),
  },
  User: {
    id: (user) => encodeGlobalId('User', user.id),
    displayName: (user) => user.display_name,
  },
  UserConnection: connectionResolvers,
  UserEdge: {},
} satisfies Resolvers;
