import type { Resolvers } from '../../__generated__/resolvers.js';
import { decodeGlobalId } from '../../graphql/global-id.js';

/** `Query.node`: any object by global id, through the same per-request loaders (and so the same RLS). */
export const nodeResolvers: Resolvers = {
  Query: {
    node: async (_parent, { id }, { loaders }) => {
      const { type, localId } = decodeGlobalId(id);
      switch (type) {
        case 'Tenant':
          return loaders.tenantById.load(localId);
        case 'User':
          return loaders.userById.load(localId);
        case 'Conversation':
          return loaders.conversationById.load(localId);
        case 'Message':
          return loaders.messageById.load(localId);
      }
    },
  },
  Node: {
    // Each row type has a column no other has.
    __resolveType: (row) => {
      if ('body' in row) return 'Message';
      if ('title' in row) return 'Conversation';
      if ('email' in row) return 'User';
      return 'Tenant';
    },
  },
};
