import type { Resolvers } from '../__generated__/resolvers.js';
import { dateTimeScalar } from '../graphql/date-time-scalar.js';
import { auditModule } from './audit/module.js';
import { conversationsModule } from './conversations/module.js';
import { directoryModule } from './directory/module.js';
import type { TransactionSource } from './domain-module.js';
import { mergeModules } from './domain-module.js';
import { messagesModule } from './messages/module.js';
import { nodeModule } from './node/resolvers.js';
import type { Loaders } from './loaders.js';
import type { UnresolvedFields } from './covered-resolvers.js';
import { realtimeModule } from './realtime/module.js';

/**
 * THE module registry: adding a domain module is one line here. Everything the API knows about its modules
 * (resolvers, loaders, node types, access paths, tenant tables, unique-constraint sentences) is derived from
 * this list; merging refuses at boot any key two modules both define.
 */
const DOMAIN_MODULES = [directoryModule, conversationsModule, messagesModule, auditModule, realtimeModule] as const;

/** The custom scalars of schema/base.graphql (graphql-tools reads their `__`-prefixed resolvers). */
const scalarsModule = { name: 'scalars', resolvers: { DateTime: dateTimeScalar as unknown as Resolvers['DateTime'] } };

const domain = mergeModules(DOMAIN_MODULES);
const registry = mergeModules([...DOMAIN_MODULES, nodeModule(domain.nodeTypes), scalarsModule]);

export type { Loaders } from './loaders.js';

/**
 * Compile-time: every field that needs a resolver (a root field, `id`, a field the parent row has no property
 * for) is resolved by some registered module. A forgotten one fails `npm run typecheck` here, naming it:
 * "Type 'true' is not assignable to type '{ unresolved: "Label.createdAt" }'".
 */
export type DomainModulesResolvers = (typeof DOMAIN_MODULES)[number]['resolvers'] | ReturnType<typeof nodeModule>['resolvers'];
type Unresolved = UnresolvedFields<DomainModulesResolvers>;
export const EVERY_FIELD_RESOLVED: [Unresolved] extends [never] ? true : { unresolved: Unresolved } = true;

/**
 * Every DataLoader of one request. Built per request and bound to its transaction: a loader cache shared
 * across requests could hand one tenant's rows to another.
 */
export function createLoaders(transaction: TransactionSource): Loaders {
  return registry.createLoaders(transaction) as unknown as Loaders;
}

/** Every module's resolvers, merged per type, and the custom scalars. */
export function allResolvers(): Resolvers {
  return registry.resolvers;
}

/** The node types `node(id:)` can load, by GraphQL type name (the boot check compares them with the SDL). */
export const NODE_TYPES = registry.nodeTypes;
/** Every statement the modules issue that reads a table, for `cli explain`. */
export const ACCESS_PATHS = registry.accessPaths;
/** Unique constraint -> the sentence a user sees on a 23505 (errors/database-errors.ts). */
export const UNIQUE_VIOLATIONS = registry.uniqueViolations;
