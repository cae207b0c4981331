import { isValidTenantId } from '../ids/entity-ids.js';

/**
 * Event cursors: opaque to clients, `base64url("rt1:<tenant>:<position>")`. The tenant is part of the cursor so
 * that a cursor of another tenant is recognised as foreign and refused, never read as a position of this one
 * (positions are per tenant). A cursor grants nothing: a member may read every event of its own tenant anyway.
 */
const VERSION = 'rt1';
const POSITION = /^(0|[1-9][0-9]{0,18})$/;

export function encodeEventCursor(tenantId: string, position: string): string {
  return Buffer.from(`${VERSION}:${tenantId}:${position}`).toString('base64url');
}

/** The position a cursor names for `tenantId`, or null when it is malformed or another tenant's. */
export function decodeEventCursor(cursor: string, tenantId: string): string | null {
  if (cursor.length > 100) return null;
  const parts = Buffer.from(cursor, 'base64url').toString('utf8').split(':');
  if (parts.length !== 3 || parts[0] !== VERSION || !isValidTenantId(parts[1]!) || !POSITION.test(parts[2]!)) return null;
  return parts[1] === tenantId ? parts[2]! : null;
}
