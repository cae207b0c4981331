import type { NodeResolvers } from '../__generated__/resolvers.js';
import { BadUserInputError } from '../errors/app-error.js';
import { isValidTenantId, isValidUserId } from '../ids/entity-ids.js';

/** The types implementing Node in the SDL, read from the generated resolver types (so never listed by hand). */
export type NodeType = NonNullable<Awaited<ReturnType<NodeResolvers['__resolveType']>>>;

/** Every type whose `id` is a global id: the Node types and the types that have an id but no `node(id:)` lookup. */
export type GlobalIdType = NodeType | 'AuditEvent';

const isUuid = isValidUserId;

/**
 * How each type's local id looks, which is validated before any query sees it. Keyed by GlobalIdType, so a new
 * Node type in the SDL does not compile until it is listed here (tenants have integer ids, everything else UUIDs).
 */
const LOCAL_ID_IS_VALID: Record<GlobalIdType, (localId: string) => boolean> = {
  Tenant: isValidTenantId,
  User: isUuid,
  Conversation: isUuid,
  Message: isUuid,
  AuditEvent: isUuid,
};

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
  if (separator < 0 || !Object.hasOwn(LOCAL_ID_IS_VALID, type)) return undefined;
  return LOCAL_ID_IS_VALID[type as GlobalIdType](localId) ? { type: type as GlobalIdType, localId } : undefined;
}

function truncate(value: string): string {
  return value.length > 60 ? `${value.slice(0, 60)}…` : value;
}
