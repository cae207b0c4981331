import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDateTime } from '../../src/graphql/date-time-scalar.js';
import { withOwnerClient } from '../support/owner-db.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { createTestTenant, type TestTenant } from '../support/tenants.js';

let server: TestServer;
let tenant: TestTenant;
beforeAll(async () => {
  server = await startTestServer({ production: true, introspection: true });
  tenant = await createTestTenant();
});
afterAll(async () => {
  await server.close();
});

const accepts = (text: string) => {
  try {
    parseDateTime(text);
    return true;
  } catch {
    return false;
  }
};

/** Whether PostgreSQL reads `text` as a timestamptz. */
async function postgresAccepts(texts: string[]): Promise<boolean[]> {
  return withOwnerClient(async (client) => {
    const results: boolean[] = [];
    for (const text of texts) {
      results.push(
        await client.query('select $1::timestamptz', [text]).then(
          () => true,
          () => false,
        ),
      );
    }
    return results;
  });
}

const REFUSED = [
  '2024',
  '+020000-01-01T00:00:00Z',
  '2024-05-01',
  '2024-05-01T12:00:00',
  '2024-05-01 12:00:00Z',
  '2024-02-30T00:00:00Z',
  '2023-02-29T00:00:00Z',
  '0000-01-01T00:00:00Z',
  '2024-05-01T24:00:00Z',
  '2024-05-01T23:59:60Z',
  '2024-05-01T12:00:00+16:00',
  '2024-05-01T12:00:00.1234567890Z',
  '2024-05-01T12:00:00+0200',
  'yesterday',
  '',
];
const ACCEPTED = [
  '2024-05-01T12:00:00Z',
  '2024-05-01t12:00:00z',
  '2024-02-29T00:00:00+02:00',
  '2024-05-01T12:00:00.123456789-07:30',
  '0001-01-01T00:00:00+15:59',
  '9999-12-31T23:59:59.999999-15:59',
];

describe('DateTime (scalar)', () => {
  it('accepts RFC 3339 date-times with a time zone and refuses everything else', () => {
    expect(REFUSED.filter(accepts)).toEqual([]);
    expect(ACCEPTED.filter((text) => !accepts(text))).toEqual([]);
    expect(parseDateTime('2024-05-01t12:00:00z')).toBe('2024-05-01T12:00:00Z');
  });

  it('accepts only what PostgreSQL reads as a timestamptz, at the edges and for random date-times', async () => {
    const pad = (n: number, width = 2) => String(n).padStart(width, '0');
    const candidates = fc.sample(
      fc
        .record({
          year: fc.integer({ min: 0, max: 9999 }),
          month: fc.integer({ min: 0, max: 13 }),
          day: fc.integer({ min: 0, max: 32 }),
          hour: fc.integer({ min: 0, max: 25 }),
          minute: fc.integer({ min: 0, max: 60 }),
          second: fc.integer({ min: 0, max: 61 }),
          sign: fc.constantFrom('+', '-'),
          offsetHours: fc.integer({ min: 0, max: 25 }),
          offsetMinutes: fc.integer({ min: 0, max: 60 }),
        })
        .map(
          (t) =>
            `${pad(t.year, 4)}-${pad(t.month)}-${pad(t.day)}T${pad(t.hour)}:${pad(t.minute)}:${pad(t.second)}` +
            `${t.sign}${pad(t.offsetHours)}:${pad(t.offsetMinutes)}`,
        ),
      { numRuns: 400, seed: 8 },
    );
    const texts = [...ACCEPTED, ...REFUSED, ...candidates];
    const postgres = await postgresAccepts(texts);
    // Everything the scalar lets through, PostgreSQL reads: no DateTime reaches SQL to fail there.
    expect(texts.filter((text, i) => accepts(text) && !postgres[i])).toEqual([]);
    // The sample is not vacuous: it holds values on both sides.
    expect(candidates.some(accepts)).toBe(true);
    expect(candidates.some((text) => !accepts(text))).toBe(true);
  });
});

describe('Query.auditEvents(filter: { since })', () => {
  const auth = () => ({ authorization: `Bearer ${tenant.admin.token}` });
  const query = 'query Since($since: DateTime) { auditEvents(filter: { since: $since }) { edges { node { id } } } }';

  it('answers 400 BAD_USER_INPUT naming the format for "2024" written in the query', async () => {
    const result = await server.post({ query: 'query { auditEvents(filter: { since: "2024" }) { edges { node { id } } } }' }, auth());
    expect(result.status).toBe(400);
    expect(result.json.errors).toHaveLength(1);
    expect(result.json.errors[0].extensions.code).toBe('BAD_USER_INPUT');
    expect(result.json.errors[0].message).toMatch(/RFC 3339 date-time with a time zone.*received "2024"/);
  });

  it('answers 400 BAD_USER_INPUT for a year PostgreSQL cannot store, passed as a variable', async () => {
    const result = await server.post({ query, variables: { since: '+020000-01-01T00:00:00Z' } }, auth());
    expect(result.status).toBe(400);
    expect(result.json.errors[0].extensions.code).toBe('BAD_USER_INPUT');
    expect(result.json.errors[0].extensions.field).toBe('since');
    expect(result.json.errors[0].message).toMatch(/RFC 3339/);
  });

  it('filters by a date-time with an offset', async () => {
    const past = await server.post({ query, variables: { since: '2000-01-01T02:00:00+02:00' } }, auth());
    expect(past.json.errors).toBeUndefined();
    const future = await server.post({ query, variables: { since: '9999-01-01T00:00:00Z' } }, auth());
    expect(future.json.errors).toBeUndefined();
    expect(future.json.data.auditEvents.edges).toEqual([]);
  });

  it('introspects as a scalar specified by RFC 3339', async () => {
    const result = await server.post({ query: '{ __type(name: "DateTime") { kind specifiedByURL description } }' });
    expect(result.json.data.__type).toEqual({
      kind: 'SCALAR',
      specifiedByURL: 'https://www.rfc-editor.org/rfc/rfc3339',
      description: expect.stringContaining('RFC 3339'),
    });
  });
});
