import { randomUUID } from 'node:crypto';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { capLogField, capLogPath, errorForLog } from '../../src/observability/log-fields.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { createTestTenant, type TestTenant } from '../support/tenants.js';

/** The raw lines pino writes, as they would reach a log shipper. */
const lines: string[] = [];
let server: TestServer;
let tenant: TestTenant;
beforeAll(async () => {
  server = await startTestServer({ logger: pino({ level: 'info' }, { write: (line: string) => void lines.push(line) }) });
  tenant = await createTestTenant();
});
afterAll(async () => {
  await server.close();
});

const linesOf = (requestId: string) => lines.filter((line) => line.includes(requestId));

describe('the request log', () => {
  it('caps a 300,000-character operation name and a 100,000-character user agent to a bounded line', async () => {
    const requestId = `cap-${randomUUID()}`;
    const name = `Huge${'N'.repeat(300_000)}`;
    const result = await server.post(
      { query: `query ${name} { viewer { user { id } } }`, operationName: name },
      { authorization: `Bearer ${tenant.admin.token}`, 'x-request-id': requestId, 'user-agent': `agent/${'A'.repeat(100_000)}` },
    );
    expect(result.status).toBe(200);
    const logged = linesOf(requestId);
    expect(logged).toHaveLength(1);
    expect(logged[0]!.length).toBeLessThan(2000);
    const line = JSON.parse(logged[0]!);
    expect(line).toMatchObject({ msg: 'graphql request', operationType: 'query', status: 200 });
    expect(line.operationName).toMatch(/^HugeN+…\(300004 characters\)$/);
    expect(line.userAgent).toMatch(/^agent\/A+…\(100006 characters\)$/);
  });

  it('replaces a request id that is not a short token with its own, in the log and the response', async () => {
    const response = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${tenant.admin.token}`, 'x-request-id': 'r'.repeat(10_000) },
      body: JSON.stringify({ query: '{ viewer { user { id } } }' }),
    });
    await response.text();
    const requestId = response.headers.get('x-request-id')!;
    expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(linesOf(requestId)).toHaveLength(1);
    expect(lines.some((line) => line.includes('r'.repeat(200)))).toBe(false);
  });
});

describe('log field caps', () => {
  it('keep short values, cut long ones saying how long they were, and cap error paths and errors', () => {
    expect(capLogField('Viewer')).toBe('Viewer');
    expect(capLogField(undefined)).toBeUndefined();
    expect(capLogField('x'.repeat(129))).toBe(`${'x'.repeat(128)}…(129 characters)`);
    const path = capLogPath(['a'.repeat(1000), 3, ...Array.from({ length: 40 }, () => 'f')])!;
    expect(path).toHaveLength(33);
    expect(path[0]).toBe(`${'a'.repeat(128)}…(1000 characters)`);
    expect(path[32]).toBe('…(42 segments)');
    const error = Object.assign(new Error(`invalid input "${'v'.repeat(5000)}"`), {
      code: '22P02',
      detail: `Key (email)=(${'e'.repeat(5000)}) already exists.`,
      body: 'w'.repeat(5000),
    });
    const logged = errorForLog(error);
    expect(String(logged.message).length).toBeLessThan(1100);
    expect(String(logged.detail).length).toBeLessThan(1100);
    expect(logged).toMatchObject({ name: 'Error', code: '22P02' });
    expect(logged).not.toHaveProperty('body');
  });
});
