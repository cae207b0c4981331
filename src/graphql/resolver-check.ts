import { buildASTSchema, isInterfaceType, isObjectType, isScalarType, isUnionType, parse, type GraphQLSchema } from 'graphql';

/** What the boot check compares: the SDL, the merged resolvers and the node types the registry can load. */
export interface ResolverCheckInput {
  typeDefs: readonly string[];
  resolvers: Readonly<Record<string, unknown>>;
  /** The type names `node(id:)` can load (src/modules/index.ts NODE_TYPES). */
  nodeTypes: readonly string[];
}

/**
 * Every way the resolvers fail to cover the SDL that would otherwise only show at run time, as sentences naming
 * `Type.field` and the fix (empty when there is none):
 *  - a root field (Query, Mutation, Subscription) without a resolver: it has no parent to read a default from;
 *  - a field with arguments without a resolver: the default resolver ignores arguments;
 *  - an interface or union without `__resolveType`;
 *  - a type implementing Node that no module can load by id, or a node type the SDL does not declare;
 *  - a resolver for a type or field the SDL does not have (a typo, or a field removed from the SDL).
 * Fields of object types whose parent row has a property of that name are left to the default resolver; the
 * generated resolver types (codegen mappers) make a resolver that reads a missing column fail to compile.
 */
export function findResolverProblems({ typeDefs, resolvers, nodeTypes }: ResolverCheckInput): string[] {
  const schema = buildASTSchema(parse(typeDefs.join('\n')));
  const problems: string[] = [];
  const fieldsOf = (type: string) => resolvers[type] as Record<string, unknown> | undefined;

  const roots = [schema.getQueryType(), schema.getMutationType(), schema.getSubscriptionType()].flatMap((t) => (t ? [t.name] : []));
  for (const type of Object.values(schema.getTypeMap())) {
    if (type.name.startsWith('__')) continue;
    if (isObjectType(type)) {
      for (const field of Object.values(type.getFields())) {
        if (fieldsOf(type.name)?.[field.name] !== undefined) continue;
        if (roots.includes(type.name)) problems.push(`${type.name}.${field.name} has no resolver: a root field needs one.`);
        else if (field.args.length > 0) problems.push(`${type.name}.${field.name} has no resolver: a field with arguments needs one.`);
      }
    } else if ((isInterfaceType(type) || isUnionType(type)) && typeof fieldsOf(type.name)?.['__resolveType'] !== 'function') {
      problems.push(`${type.name}.__resolveType is missing: an abstract type needs one to tell its object types apart.`);
    }
  }

  const implementers = nodeImplementers(schema);
  for (const type of implementers.filter((name) => !nodeTypes.includes(name))) {
    problems.push(
      `${type} implements Node but no module registers a node type for it: add ${type} to the nodeTypes of its module (src/modules/<domain>/module.ts) so node(id:) can load it.`,
    );
  }
  for (const type of nodeTypes.filter((name) => !implementers.includes(name))) {
    problems.push(`The node type ${type} is registered but the SDL has no type ${type} implementing Node.`);
  }

  for (const [typeName, fields] of Object.entries(resolvers)) {
    const type = schema.getType(typeName);
    if (!type) {
      problems.push(`Resolvers are defined for ${typeName}, which the SDL (schema/*.graphql) does not declare.`);
    } else if (isObjectType(type) || isInterfaceType(type)) {
      const declared = type.getFields();
      for (const field of Object.keys(fields as object)) {
        if (!field.startsWith('__') && !Object.hasOwn(declared, field)) {
          problems.push(`${typeName}.${field} has a resolver but the SDL declares no such field.`);
        }
      }
    } else if (!isScalarType(type) && !isUnionType(type)) {
      problems.push(`Resolvers are defined for ${typeName}, which is not an object, interface, union or scalar type.`);
    }
  }
  return problems;
}

/** Throws, listing every problem {@link findResolverProblems} finds, so a server never boots with a gap. */
export function assertResolversComplete(input: ResolverCheckInput): void {
  const problems = findResolverProblems(input);
  if (problems.length > 0) {
    throw new Error(
      `The resolvers do not cover the schema (checked at boot):\n  - ${problems.join('\n  - ')}\n` +
        'Register the module in src/modules/index.ts, or add the missing resolvers to it.',
    );
  }
}

function nodeImplementers(schema: GraphQLSchema): string[] {
  const node = schema.getType('Node');
  return node && isInterfaceType(node) ? schema.getImplementations(node).objects.map((type) => type.name) : [];
}
