import type { GraphQLScalarType } from 'graphql';
import type { Resolvers, ResolversParentTypes } from '../__generated__/resolvers.js';

type ObjectTypeName = keyof Resolvers & keyof ResolversParentTypes;
type FieldsOf<T extends ObjectTypeName> = Exclude<keyof NonNullable<Resolvers[T]>, `__${string}`>;

/**
 * The fields of GraphQL type T the default resolver cannot answer: those the parent row (the codegen mapper in
 * codegen.ts) has no property for, and `id`, which is a global id, never the row's own key.
 */
export type FieldsNeedingResolvers<T extends ObjectTypeName> =
  Exclude<FieldsOf<T>, PropertiesOf<ResolversParentTypes[T]>> | Extract<FieldsOf<T>, 'id'>;

/** The properties of a parent type; none for the root types, whose parent is `Record<PropertyKey, never>`. */
type PropertiesOf<P> = string extends keyof P ? never : keyof P;

/** The fields of type T that the resolver maps R (a union, one per module) define. */
type ProvidedFields<R, T extends PropertyKey> = R extends unknown ? (T extends keyof R ? keyof NonNullable<R[T]> : never) : never;

/**
 * `Type.field` for every field of every object type that needs a resolver and that none of the resolver maps R
 * (the registered modules' resolvers, as a union) defines: `never` when every field is covered. The registry
 * (src/modules/index.ts) fails to compile unless it is `never`, so a field may be resolved by any module — a
 * labels module resolves `Conversation.labels` — and a forgotten one is named by the compiler.
 */
export type UnresolvedFields<R> = {
  [T in ObjectTypeName]: NonNullable<Resolvers[T]> extends GraphQLScalarType
    ? never
    : `${T}.${Exclude<FieldsNeedingResolvers<T>, ProvidedFields<R, T>> & string}`;
}[ObjectTypeName];
