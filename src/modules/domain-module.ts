import type { Resolvers } from '../__generated__/resolvers.js';
import type { NodeType } from '../graphql/global-id.js';
import type { RequestContext } from '../graphql/request-context.js';
import type { TenantTransaction } from '../tenancy/tenant-transaction.js';
import type { AccessPath } from './access-path.js';
import type { UniqueViolation } from '../errors/database-errors.js';

/** Hands loaders the request's transaction, begun on first use. */
export type TransactionSource = () => Promise<TenantTransaction>;

/**
 * Loads one object of a Node type by its local id, through the request's loaders (so under the request's tenant
 * and RLS); null when the tenant has no such object.
 */
export type NodeLoader = (localId: string, context: RequestContext) => Promise<object | null>;

/** The Node types a module owns, by GraphQL type name. */
export type NodeTypes = Partial<Record<NodeType, NodeLoader>>;

/**
 * Everything a domain module (src/modules/<domain>/) contributes, registered once in src/modules/index.ts.
 * Each record is keyed by a name the whole API shares (a GraphQL Type.field, a loader, a node type, a constraint,
 * a table): merging refuses a key two modules both define, so no module silently overrides another.
 */
export interface DomainModule<L extends object = object> {
  /** The folder name, used in boot errors. */
  readonly name: string;
  /** Resolvers by GraphQL type and field, typed by the generated signatures. */
  readonly resolvers: Resolvers;
  /** The module's DataLoaders, built per request and bound to its transaction. */
  readonly createLoaders?: (transaction: TransactionSource) => L;
  /** The Node types it owns: `node(id:)` loads them by the type in the decoded global id. */
  readonly nodeTypes?: NodeTypes;
  /** Every statement it issues that reads a table (`cli explain` runs them under EXPLAIN ANALYZE). */
  readonly accessPaths?: readonly AccessPath[];
  /** Unique constraint name -> the sentence a user sees when a write violates it (23505), and the input field at fault. */
  readonly uniqueViolations?: Readonly<Record<string, UniqueViolation>>;
}

/** What the registry holds after merging: every key once, with the module that defined it. */
export interface MergedModules {
  readonly resolvers: Resolvers;
  readonly createLoaders: (transaction: TransactionSource) => Record<string, unknown>;
  readonly nodeTypes: Readonly<Partial<Record<NodeType, NodeLoader>>>;
  readonly accessPaths: readonly AccessPath[];
  readonly uniqueViolations: Readonly<Record<string, UniqueViolation>>;
}

/**
 * Merges modules into one registry. Throws, listing every clash at once, when two modules define the same
 * Type.field resolver, loader, node type, access path or unique constraint: a later module
 * would otherwise silently win. Loader names are checked by building the loaders once with a transaction
 * source that is never called (factories only construct DataLoaders).
 */
export function mergeModules(modules: readonly DomainModule[]): MergedModules {
  const clashes: string[] = [];
  const owners = new Map<string, string>();
  const claim = (kind: string, key: string, module: string) => {
    const id = `${kind} ${key}`;
    const owner = owners.get(id);
    if (owner !== undefined && owner !== module) clashes.push(`${id} is defined by both module "${owner}" and module "${module}"`);
    else if (owner === undefined) owners.set(id, module);
  };

  const resolvers: Record<string, Record<string, unknown>> = {};
  const nodeTypes: Partial<Record<NodeType, NodeLoader>> = {};
  const accessPaths: AccessPath[] = [];
  const sentences: Record<string, UniqueViolation> = {};
  const unused: TransactionSource = () => Promise.reject(new Error('mergeModules builds loaders only to read their names'));

  for (const module of modules) {
    for (const [type, fields] of Object.entries(module.resolvers)) {
      // A scalar (GraphQLScalarType) is one value, not a map of fields.
      const entries = isFieldMap(fields) ? Object.entries(fields) : [['(scalar)', fields] as const];
      for (const [field] of entries) claim('resolver', `${type}.${field}`, module.name);
      resolvers[type] = isFieldMap(fields) ? { ...resolvers[type], ...fields } : (fields as unknown as Record<string, unknown>);
    }
    for (const name of Object.keys(module.createLoaders?.(unused) ?? {})) claim('loader', name, module.name);
    for (const [type, load] of Object.entries(module.nodeTypes ?? {}) as [NodeType, NodeLoader][]) {
      claim('node type', type, module.name);
      nodeTypes[type] ??= load;
    }
    for (const path of module.accessPaths ?? []) {
      claim('access path', path.name, module.name);
      accessPaths.push(path);
    }
    for (const [constraint, sentence] of Object.entries(module.uniqueViolations ?? {})) {
      claim('unique constraint', constraint, module.name);
      sentences[constraint] ??= sentence;
    }
  }
  if (clashes.length > 0) {
    throw new Error(
      `The module registry (src/modules/index.ts) has clashing definitions:\n  - ${clashes.join('\n  - ')}\n` +
        'Each key must belong to one module: rename one of them or move the definition into a single module.',
    );
  }

  const factories = modules.flatMap((module) => (module.createLoaders ? [module.createLoaders] : []));
  return {
    resolvers: resolvers as Resolvers,
    createLoaders: (transaction) => Object.assign({}, ...factories.map((create) => create(transaction))) as Record<string, unknown>,
    nodeTypes,
    accessPaths,
    uniqueViolations: sentences,
  };
}

function isFieldMap(value: unknown): value is Record<string, unknown> {
  // graphql-tools accepts GraphQLScalarType instances as resolvers; they are classes, not plain field maps.
  return typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype;
}
