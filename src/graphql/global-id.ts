import type { NodeResolvers, Resolvers } from '../__generated__/resolvers.js';
import { buildASTSchema, isObjectType, parse } from 'graphql';
import { BadUserInputError } from '../errors/app-error.js';
import { isValidTenantId, isValidUserId } from '../ids/entity-ids.js';
import { loadTypeDefs } from './schema-files.js';

/** The types implementing Node in the SDL, read from the generated resolver types (so never listed by hand). */
export type NodeType = NonNullable<Awaited<ReturnType<NodeResolvers['__resolveType']>>>;

/**
 * Every object type with an `id` field: its id is a global id (the Node types, and types such as AuditEvent that
 * have an id but no `node(id:)` lookup). Read from the generated resolver types, so a new type is included the
 * moment its SDL is generated.
 */
export type GlobalIdType = { [T in keyof Resolvers]-?: 'id' extends keyof NonNullable<Resolvers[T]> ? T : never }[keyof Resolvers];

/**
 * Local ids are random UUIDs (the `id uuid DEFAULT gen_random_uuid()` of every tenant table); the exceptions and
 * their shapes are listed here. Validated before any query sees them.
 */
const LOCAL_ID_EXCEPTIONS: Partial<Record<GlobalIdType, (localId: string) => boolean>> = { Tenant: isValidTenantId };
const isValidLocalId = (type: GlobalIdType, localId: string) => (LOCAL_ID_EXCEPTIONS[type] ?? isValidUserId)(localId);

let globalIdTypeNames: ReadonlySet<string> | undefined;
/** The object types with an `id: ID!` field in the SDL, read once: GlobalIdType at run time. */
function isGlobalIdType(name: string): name is GlobalIdType {
  globalIdTypeNames ??= new Set(
    Object.values(buildASTSchema(parse(loadTypeDefs().join('\n'))).getTypeMap())
      .filter((type) => isObjectType(type) && String(type.getFields()['id']?.type) === 'ID!')
      .map((type) => type.name),
  );
  return globalIdTypeNames.has(name);
}

/**
 * Global ids are base64url("Type:localId"). They are opaque to clients and carry no tenant: looking one up
 * runs under the caller's tenant like every other query, so another tenant's id simply finds nothing.
 * Local ids are random UUIDs (tenants: random integers), so ids reveal nothing about other tenants' volume.
 */
export function encodeGlobalId(type: GlobalIdType, localId: string): string {
  return Buffer.from(`${type}:${localId}`, 'utf8').toString('base64url');
}

export interface DecodedGlobalId {
  type: GlobalIdType;
  localId: string;
}

/**
 * Decodes and validates an id; throws BAD_USER_INPUT naming the expected type when it is malformed, with
 * `extensions.field` the argument or input field it came from.
 */
export function decodeGlobalId(id: string, expected?: GlobalIdType, field = 'id'): DecodedGlobalId {
  const decoded = tryDecode(id);
  if (!decoded) {
    throw new BadUserInputError(`Invalid id ${JSON.stringify(truncate(id))}: expected an id returned by this API.`, field);
  }
  if (expected && decoded.type !== expected) {
    throw new BadUserInputError(`Invalid id ${JSON.stringify(truncate(id))}: expected a ${expected} id, received a ${decoded.type} id.`, field);
  }
  return decoded;
}

function tryDecode(id: string): DecodedGlobalId | undefined {
  if (id.length > 200 || !/^[A-Za-z0-9_-]+$/.test(id)) return undefined;
  const text = Buffer.from(id, 'base64url').toString('utf8');
  const separator = text.indexOf(':');
  const type = text.slice(0, separator);
  const localId = text.slice(separator + 1);
  if (separator < 0 || !isGlobalIdType(type)) return undefined;
  return isValidLocalId(type, localId) ? { type, localId } : undefined;
}

function truncate(value: string): string {
  return value.length > 60 ? `${value.slice(0, 60)}…` : value;
}
