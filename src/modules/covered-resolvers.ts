import type { Resolvers, ResolversParentTypes } from '../__generated__/resolvers.js';

type ObjectTypeName = keyof Resolvers & keyof ResolversParentTypes;
type FieldsOf<T extends ObjectTypeName> = Exclude<keyof NonNullable<Resolvers[T]>, `__${string}`>;

/**
 * The fields of GraphQL type T the default resolver cannot answer: those the parent row (the codegen mapper in
 * codegen.ts) has no property for, and `id`, which is a global id, never the row's own key.
 */
export type FieldsNeedingResolvers<T extends ObjectTypeName> = Exclude<FieldsOf<T>, keyof ResolversParentTypes[T]> | Extract<FieldsOf<T>, 'id'>;

/**
 * A module's resolvers, with every field of its `Types` that needs a resolver required: a forgotten one (say
 * `Label.createdAt` for a `created_at` column) does not compile. Annotate a module's resolvers with it, listing
 * the object types the module owns:
 * `export const labelResolvers: CoveredResolvers<'Label' | 'LabelConnection' | 'LabelEdge'> = { … }`.
 */
export type CoveredResolvers<Types extends ObjectTypeName> = Resolvers & {
  [T in Types]-?: NonNullable<Resolvers[T]> & Required<Pick<NonNullable<Resolvers[T]>, FieldsNeedingResolvers<T>>>;
};
