import type { Resolvers } from '../../__generated__/resolvers.js';
import { BadUserInputError } from '../../errors/app-error.js';
import { decodeGlobalId, type NodeType } from '../../graphql/global-id.js';
import type { DomainModule, NodeLoader } from '../domain-module.js';

/**
 * The type of every object `Query.node` returned, by object. `Node.__resolveType` reads it, so the type comes
 * from the decoded global id and the registry, never from a row's columns. Weak: the rows belong to one
 * request's loaders and are collected with them.
 */
const nodeTypeOf = new WeakMap<object, NodeType>();

/**
 * `Query.node` and `Node.__resolveType` for the node types of the registered modules: any object by global id,
 * through the same per-request loaders (and so the same RLS). Another tenant's id finds nothing (null); an id
 * of a type that is not a Node (an AuditEvent's) is BAD_USER_INPUT, like a malformed one.
 */
export function nodeModule(nodeTypes: Readonly<Partial<Record<NodeType, NodeLoader>>>) {
  const resolvers = {
    Query: {
      node: async (_parent, { id }, context) => {
        const decoded = decodeGlobalId(id);
        const type = decoded.type as NodeType;
        const load = Object.hasOwn(nodeTypes, type) ? nodeTypes[type] : undefined;
        // A well-formed id of a type that is not a Node (an AuditEvent's) is refused as before: no lookup exists.
        if (!load)
          throw new BadUserInputError(`Invalid id: expected the id of a Node (${Object.keys(nodeTypes).join(', ')}), received a ${type} id.`);
        const { localId } = decoded;
        const row = await load(localId, context);
        if (row) nodeTypeOf.set(row, type);
        return row as never;
      },
    },
    Node: {
      __resolveType: (row) => {
        const type = nodeTypeOf.get(row);
        // Only Query.node returns the Node interface; anything else is a server bug, not a guess to make.
        if (!type) throw new Error('Node.__resolveType received an object Query.node did not load: expected a row loaded by a registered node type');
        return type;
      },
    },
  } satisfies Resolvers;
  return { name: 'node', resolvers } satisfies DomainModule;
}
