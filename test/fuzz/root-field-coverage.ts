import { buildASTSchema, Kind, parse, type GraphQLSchema, type OperationTypeNode } from 'graphql';
import { loadTypeDefs } from '../../src/graphql/schema-files.js';
import type { Send } from './fuzz-client.js';

const ROOT_TYPE: Record<OperationTypeNode, 'getQueryType' | 'getMutationType' | 'getSubscriptionType'> = {
  query: 'getQueryType',
  mutation: 'getMutationType',
  subscription: 'getSubscriptionType',
};

/** `Query.viewer`, `Mutation.postMessage`, …: the root fields a document selects (aliases resolved to field names). */
export function rootFieldsOf(document: string, schema: GraphQLSchema): string[] {
  return parse(document).definitions.flatMap((definition) => {
    if (definition.kind !== Kind.OPERATION_DEFINITION) return [];
    const root = schema[ROOT_TYPE[definition.operation]]()?.name ?? definition.operation;
    return definition.selectionSet.selections.flatMap((selection) => (selection.kind === Kind.FIELD ? [`${root}.${selection.name.value}`] : []));
  });
}

/** Every root field of the schema (schema/*.graphql) that `exercised` lacks, sorted. */
export function unexercisedRootFields(exercised: ReadonlySet<string>, schema: GraphQLSchema = publicSchema()): string[] {
  const roots = [schema.getQueryType(), schema.getMutationType(), schema.getSubscriptionType()].flatMap((type) => (type ? [type] : []));
  return roots
    .flatMap((type) => Object.keys(type.getFields()).map((field) => `${type.name}.${field}`))
    .filter((field) => !exercised.has(field))
    .sort();
}

export function publicSchema(): GraphQLSchema {
  return buildASTSchema(parse(loadTypeDefs().join('\n')));
}

/**
 * Wraps the fuzzer's sender so that every root field it sends is recorded in `exercised`: the run fails at the end
 * when the schema has a root field the fuzzer never sent (a new query or mutation without an operation spec).
 */
export function recordingRootFields(send: Send, exercised: Set<string>, schema: GraphQLSchema = publicSchema()): Send {
  return (caller, query, variables) => {
    for (const field of rootFieldsOf(query, schema)) exercised.add(field);
    return send(caller, query, variables);
  };
}
