import { describe, expect, it } from 'vitest';
import { encodeGlobalId } from '../../src/graphql/global-id.js';
import { encodeCursor } from '../../src/graphql/cursor.js';
import { LeakDetector, newMarker } from './leak-detector.js';

// The isolation fuzzer is only as good as its leak scan: these feed it deliberately leaked responses.

const mine = newMarker('0a1b2c3d', 0);
const theirs = newMarker('0a1b2c3d', 1);
const theirUuid = '3f2b8c1e-5d4a-4b6c-9e8f-7a6b5c4d3e2f';
const theirTenantId = '418273645091';

function detector(): LeakDetector {
  const leaks = new LeakDetector();
  leaks.register(theirUuid, theirs);
  leaks.register(theirTenantId, theirs);
  return leaks;
}

function scan(data: unknown, variables: unknown = {}, errors?: unknown[]): string[] {
  const body = { data, ...(errors ? { errors } : {}) };
  return detector().scan(mine, JSON.stringify(body), body as { data?: unknown }, variables);
}

describe('LeakDetector.scan', () => {
  it("finds another tenant's marker in any string, in any letter case", () => {
    expect(scan({ node: { title: `${mine} hello` } })).toEqual([]);
    expect(scan({ node: { title: `${theirs} hello` } })).toHaveLength(1);
    expect(scan({ node: { email: `${theirs.toUpperCase()}.U1@FUZZ.TEST` } })).toHaveLength(1);
  });

  it("finds another tenant's row id as it is, inside a global id and inside a cursor", () => {
    expect(scan({ x: theirUuid })).toHaveLength(1);
    expect(scan({ node: { id: encodeGlobalId('Message', theirUuid) } })).toHaveLength(1);
    expect(scan({ pageInfo: { endCursor: encodeCursor({ created_at: '2026-01-02 03:04:05.123456+00', id: theirUuid }) } })).toHaveLength(1);
  });

  it("finds another tenant's id as a number and inside a Tenant id", () => {
    expect(scan({ count: Number(theirTenantId) })).toHaveLength(1);
    expect(scan({ viewer: { tenant: { id: encodeGlobalId('Tenant', theirTenantId) } } })).toHaveLength(1);
  });

  it('lets errors echo what the request sent, but never data', () => {
    const id = encodeGlobalId('Conversation', theirUuid);
    const echo = [{ message: `No conversation with id ${JSON.stringify(id)} exists.`, extensions: { code: 'NOT_FOUND' } }];
    expect(scan(null, { input: { id } }, echo)).toEqual([]);
    expect(scan(null, {}, echo)).toHaveLength(1);
    expect(scan({ node: { id } }, { id })).toHaveLength(1);
  });
});
