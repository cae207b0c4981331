import {
  getNamedType,
  getNullableType,
  isEnumType,
  isInputObjectType,
  isListType,
  isNonNullType,
  isObjectType,
  isInterfaceType,
  isScalarType,
  type GraphQLField,
  type GraphQLInputType,
  type GraphQLOutputType,
  type GraphQLSchema,
} from 'graphql';
import * as documents from './documents.js';
import type { ResolvedOperation, RunState } from './operation.js';
import type { OperationSpec } from './operation-specs.js';
import { publicSchema, rootFieldsOf, unexercisedRootFields } from './root-field-coverage.js';
import type { TenantModel, UserModel } from './tenant-model.js';

/**
 * Operations derived from the SDL for every root field the hand-written specs (documents.ts) do not send — the
 * queries and mutations a module added since. A newcomer's feature is fuzzed for isolation the moment its SDL
 * exists: arguments are drawn from every tenant's ids (their own and other tenants', by the type an argument's
 * name implies), texts carry the caller's marker, and every field of the answer is selected two levels deep.
 * There is no model of what such a field should answer, so the checks are the ones that need none: the raw
 * response holds no evidence of another tenant (the leak scan), the outcome is success or a client error (never
 * INTERNAL_SERVER_ERROR or a 5xx), and the database's placement check (ground-truth.ts) covers every tenant table.
 * Ids an answer returns are registered as the caller's, so a later answer to another tenant that holds them is a
 * leak. A field whose arguments cannot be derived stops the run asking for a hand-written spec.
 */

const schema: GraphQLSchema = publicSchema();

/** The root fields no document of documents.ts selects, in schema order: what derived operations cover. */
export const DERIVED_ROOT_FIELDS: readonly string[] = (() => {
  const handWritten = new Set(
    Object.values(documents)
      .map((value) => (typeof value === 'function' ? (value as (n: number) => string)(1) : value))
      .filter((value): value is string => typeof value === 'string' && /^\s*(query|mutation)\b/.test(value))
      .flatMap((document) => rootFieldsOf(document, schema)),
  );
  // Subscriptions are not sent over HTTP: they have a fuzzer of their own.
  return unexercisedRootFields(handWritten, schema).filter((field) => !field.startsWith('Subscription.'));
})();

/** Global ids seen in any answer, by GraphQL type (decoded), with the marker of the tenant they were returned to. */
const seenIds = new Map<string, { id: string; marker: string }[]>();

export function derived(
  base: { label: string; spec: Extract<OperationSpec, { op: 'derived' }>; tenant: TenantModel; user: UserModel },
  state: RunState,
): ResolvedOperation {
  const coordinate = DERIVED_ROOT_FIELDS[base.spec.field % DERIVED_ROOT_FIELDS.length]!;
  const { query, variables } = derivedRequest(schema, coordinate, base.spec.seed, base.tenant, state);
  const rootName = coordinate.split('.')[0];
  const marker = base.tenant.marker.toLowerCase();
  const record = (data: unknown) => {
    for (const id of globalIdsIn(data)) {
      const [type, localId] = Buffer.from(id, 'base64url').toString('utf8').split(':') as [string, string];
      state.leaks.register(localId, marker);
      const pool = seenIds.get(type) ?? [];
      if (!pool.some((entry) => entry.id === id)) seenIds.set(type, [...pool, { id, marker }].slice(-200));
    }
  };
  return {
    ...base,
    label: `${base.label} (derived from the SDL: ${coordinate})`,
    query,
    variables,
    rejection: null,
    anyClientOutcome: true,
    write: rootName === 'Mutation',
    // Derived writes go one per wave: the model does not know whether two of them commute.
    conflictKey: rootName === 'Mutation' ? 'derived write' : null,
    apply: async (data) => record(data),
    check: (data) => record(data),
  };
}

/** The document and variables of one derived operation on `coordinate` (`Query.labels`) of `schema`. */
export function derivedRequest(
  schema: GraphQLSchema,
  coordinate: string,
  seed: number,
  tenant: TenantModel,
  state: Pick<RunState, 'tenants'>,
): { query: string; variables: Record<string, unknown> } {
  const [rootName, fieldName] = coordinate.split('.') as [string, string];
  const root = rootName === 'Mutation' ? schema.getMutationType() : schema.getQueryType();
  const field = root?.getFields()[fieldName];
  if (!field) throw new Error(`derivedRequest: the schema has no root field ${coordinate}`);
  const random = seeded(seed);
  const context = { random, tenant, state, coordinate };
  const variables: Record<string, unknown> = {};
  const declarations: string[] = [];
  const args: string[] = [];
  for (const arg of field.args) {
    if (!isNonNullType(arg.type) && random() < 0.5) continue;
    variables[arg.name] = valueFor(arg.type, arg.name, context);
    declarations.push(`$${arg.name}: ${String(arg.type)}`);
    args.push(`${arg.name}: $${arg.name}`);
  }
  const operation = rootName === 'Mutation' ? 'mutation' : 'query';
  const query =
    `${operation} FuzzDerived${declarations.length ? `(${declarations.join(', ')})` : ''} ` +
    `{ ${fieldName}${args.length ? `(${args.join(', ')})` : ''}${selectionOf(field.type, 2)} }`;
  return { query, variables };
}

interface DeriveContext {
  random: () => number;
  tenant: TenantModel;
  state: Pick<RunState, 'tenants'>;
  coordinate: string;
}

function valueFor(type: GraphQLInputType, name: string, context: DeriveContext): unknown {
  if (isNonNullType(type)) return valueFor(type.ofType, name, context);
  if (isListType(type)) return [valueFor(type.ofType, name, context)];
  if (isInputObjectType(type)) {
    const value: Record<string, unknown> = {};
    for (const field of Object.values(type.getFields())) {
      if (isNonNullType(field.type) || context.random() < 0.5) value[field.name] = valueFor(field.type, field.name, context);
    }
    return value;
  }
  if (isEnumType(type)) return pick(type.getValues(), context.random).name;
  switch (type.name) {
    case 'ID':
      return idFor(name, context);
    case 'String':
      return `${context.tenant.marker} derived ${Math.floor(context.random() * 1e6)}`;
    case 'Int':
      return Math.floor(context.random() * 5) + 1;
    case 'Float':
      return context.random() * 5;
    case 'Boolean':
      return context.random() < 0.5;
    case 'DateTime':
      return new Date(Date.now() - Math.floor(context.random() * 86_400_000)).toISOString();
  }
  throw new Error(
    `The fuzzer cannot derive a value of type ${type.name} (argument ${name} of ${context.coordinate}): ` +
      'write an operation spec for this field (test/fuzz/operation-specs.ts and documents.ts).',
  );
}

/**
 * An id for an argument: `conversationId` wants a Conversation id, `labelId` a Label id, `id` any. Half the time
 * one of the caller's own, otherwise another tenant's (which must find nothing).
 */
function idFor(name: string, context: DeriveContext): string {
  const wanted = /^(\w+)Id$/.exec(name)?.[1];
  const type = wanted ? wanted[0]!.toUpperCase() + wanted.slice(1) : undefined;
  const known = context.state.tenants.flatMap((tenant) => [
    ...tenant.conversations.map((c) => ({ type: 'Conversation', id: c.id, marker: tenant.marker.toLowerCase() })),
    ...tenant.users.map((u) => ({ type: 'User', id: u.id, marker: tenant.marker.toLowerCase() })),
  ]);
  const seen = [...seenIds].flatMap(([seenType, entries]) => entries.map((entry) => ({ type: seenType, ...entry })));
  const candidates = [...known, ...seen].filter((entry) => type === undefined || entry.type === type);
  if (candidates.length === 0) return Buffer.from(`${type ?? 'Conversation'}:00000000-0000-0000-0000-000000000000`).toString('base64url');
  const own = context.tenant.marker.toLowerCase();
  const mine = candidates.filter((entry) => entry.marker === own);
  const theirs = candidates.filter((entry) => entry.marker !== own);
  const from = (context.random() < 0.5 && mine.length) || !theirs.length ? mine : theirs;
  return pick(from.length ? from : candidates, context.random).id;
}

/** Every field without required arguments, down to `depth` levels of objects (` { a b { c } }`), or '' for a leaf. */
function selectionOf(type: GraphQLOutputType, depth: number): string {
  const named = getNamedType(type);
  if (isScalarType(named) || isEnumType(named)) return '';
  if (!isObjectType(named) && !isInterfaceType(named)) return ' { __typename }';
  const fields = Object.values(named.getFields()).filter((field: GraphQLField<unknown, unknown>) =>
    field.args.every((arg) => !isNonNullType(arg.type)),
  );
  const leaves = fields.filter((field) => {
    const inner = getNamedType(getNullableType(field.type));
    return isScalarType(inner) || isEnumType(inner);
  });
  const objects = depth > 0 ? fields.filter((field) => !leaves.includes(field)) : [];
  const parts = ['__typename', ...leaves.map((field) => field.name), ...objects.map((field) => `${field.name}${selectionOf(field.type, depth - 1)}`)];
  return ` { ${parts.join(' ')} }`;
}

function globalIdsIn(data: unknown): string[] {
  const found: string[] = [];
  const walk = (value: unknown, key: string) => {
    if (Array.isArray(value)) for (const item of value) walk(item, key);
    else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) walk(v, k);
    else if (key === 'id' && typeof value === 'string' && /^[A-Za-z0-9_-]+$/.test(value)) {
      if (/^[A-Z]\w*:[0-9a-f-]{36}$/.test(Buffer.from(value, 'base64url').toString('utf8'))) found.push(value);
    }
  };
  walk(data, '');
  return found;
}

function pick<T>(items: readonly T[], random: () => number): T {
  return items[Math.floor(random() * items.length) % items.length]!;
}

/** mulberry32: a small deterministic generator, so a seed replays the same derived operation. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
