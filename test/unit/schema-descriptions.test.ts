import { buildSchema, isEnumType, isInputObjectType, isInterfaceType, isObjectType, isSpecifiedScalarType, type GraphQLSchema } from 'graphql';
import { describe, expect, it } from 'vitest';
import { loadTypeDefs } from '../../src/graphql/schema-files.js';

/**
 * Every element of the public schema carries a description: it is what GraphiQL, the SDK's generated types and
 * every client's tooling show. Built from the same SDL files the server loads (src/server/apollo.ts), with the
 * `extend type` blocks merged. Built-in scalars and introspection types are graphql-js's own.
 */
function undocumented(schema: GraphQLSchema): string[] {
  const missing: string[] = [];
  const check = (coordinate: string, description: string | null | undefined) => {
    if (!description?.trim()) missing.push(coordinate);
  };
  for (const type of Object.values(schema.getTypeMap())) {
    if (type.name.startsWith('__') || isSpecifiedScalarType(type)) continue;
    check(`type ${type.name}`, type.description);
    if (isObjectType(type) || isInterfaceType(type)) {
      for (const field of Object.values(type.getFields())) {
        check(`field ${type.name}.${field.name}`, field.description);
        for (const arg of field.args) check(`argument ${type.name}.${field.name}(${arg.name}:)`, arg.description);
      }
    } else if (isInputObjectType(type)) {
      for (const field of Object.values(type.getFields())) check(`input field ${type.name}.${field.name}`, field.description);
    } else if (isEnumType(type)) {
      for (const value of type.getValues()) check(`enum value ${type.name}.${value.name}`, value.description);
    }
  }
  return missing.sort();
}

describe('schema descriptions', () => {
  it('documents every type, field, argument, input field and enum value', () => {
    expect(undocumented(buildSchema(loadTypeDefs().join('\n')))).toEqual([]);
  });

  it('names an undocumented element (negative control)', () => {
    const schema = buildSchema('"Reads." type Query { "Documented." a(x: Int): Int  b: Int } enum E { ONE } input I { f: Int }');
    expect(undocumented(schema)).toEqual(['argument Query.a(x:)', 'enum value E.ONE', 'field Query.b', 'input field I.f', 'type E', 'type I']);
  });
});
