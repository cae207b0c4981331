import { BadUserInputError } from '../errors/app-error.js';
import { isValidTenantId, isValidUserId } from '../tenancy/transaction-prologue.js';

export type NodeType = 'Tenant' | 'User' | 'Conversation' | 'Message';

const NODE_TYPES: readonly NodeType[] = ['Tenant', 'User', 'Conversation', 'Message'];

/**
 * Global ids are base64url("Type:localId"). They are opaque to clients and carry no tenant: looking one up
 * runs under the caller's tenant like every other query, so another tenant's id simply finds nothing.
 * Local ids are random UUIDs (tenants: random integers), so ids reveal nothing about other tenants' volume.
 */
export function encodeGlobalId(type: NodeType, localId: string): string {
  return Buffer.from(`${type}:${localId}`, 'utf8').toString('base64url');
}

export interface DecodedGlobalId {
  type: NodeType;
  localId: string;
}

/**
 * Decodes and validates an id; throws BAD_USER_INPUT naming the expected type when it is malformed, with
 * `extensions.field` the argument or input field it came from.
 */
export function decodeGlobalId(id: string, expected?: NodeType, field = 'id'): DecodedGlobalId {
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
  const type = text.slice(0, separator) as NodeType;
  const localId = text.slice(separator + 1);
  if (separator < 0 || !NODE_TYPES.includes(type)) return undefined;
  const valid = type === 'Tenant' ? isValidTenantId(localId) : isValidUserId(localId);
  return valid ? { type, localId } : undefined;
}

function truncate(value: string): string {
  return value.length > 60 ? `${value.slice(0, 60)}…` : value;
}
