import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InFlightLimiter, sendRefusal } from '../src/server/in-flight-limiter.js';
import { clientAddress } from '../src/server/client-address.js';

// A real node:http server whose handler admits each request as tenant "7" and holds the response until released.
const limiter = new InFlightLimiter({ perTenant: 2, perAddress: 1, tenantQueueWaitMs: 300 });
const held: ServerResponse[] = [];
let admitted = 0;
async function admit(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const refused = req.url === '/anonymous' ? limiter.admitAnonymous(clientAddress(req), res) : await limiter.admitTenant('7', res);
  if (refused) return sendRefusal(req, res, refused);
  admitted++;
  held.push(res);
  server.emit('admitted');
}
// node:http never awaits its handler: a rejection of admit() would be unhandled and end the test process, so it
// answers 500 with the error instead, which fails the status assertion that sees it.
const server = createServer((req, res) => {
  admit(req, res).catch((error: unknown) => {
    if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
    res.end(`admit() failed: ${String(error)}`);
  });
});
let base: string;
beforeAll(async () => {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => {
  server.closeAllConnections();
  server.close();
});

describe('InFlightLimiter', () => {
  it('refuses past the bound per key (after the bounded wait) until a response closes, and forgets keys with nothing in flight', async () => {
    const first = [fetch(`${base}/a`), fetch(`${base}/b`)];
    while (admitted < 2) await once(server, 'admitted');
    // Past the bound it waits for a slot of its own tenant; none frees within tenantQueueWaitMs: refused.
    const refused = await fetch(`${base}/c`);
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(((await refused.json()) as { errors: { extensions: { code: string } }[] }).errors[0]!.extensions.code).toBe(
      'TOO_MANY_CONCURRENT_REQUESTS',
    );
    // Another key is not affected by tenant 7's requests.
    const anonymous = fetch(`${base}/anonymous`);
    while (admitted < 3) await once(server, 'admitted');
    expect(limiter.keys).toBe(2);

    const closed = held.map((res) => once(res, 'close'));
    for (const res of held.splice(0)) res.end('done');
    await Promise.all([...first, anonymous].map(async (response) => (await response).text()));
    await Promise.all(closed);
    expect(limiter.keys).toBe(0);
    const again = fetch(`${base}/d`);
    while (admitted < 4) await once(server, 'admitted');
    held.splice(0).forEach((res) => res.end('done'));
    expect((await again).status).toBe(200);
  });

  it('queues a tenant past its bound behind its own requests, at most as many as the bound, and hands freed slots over in order', async () => {
    const before = admitted;
    const running = [fetch(`${base}/r1`), fetch(`${base}/r2`)];
    while (admitted < before + 2) await once(server, 'admitted');
    // Two more wait (the queue holds as many as the bound); a fifth is refused at once.
    const waiting = [fetch(`${base}/w1`), fetch(`${base}/w2`)];
    while (limiter.waiting < 2) await new Promise((resolve) => setImmediate(resolve));
    const refused = await fetch(`${base}/over`);
    expect(refused.status).toBe(429);
    expect(admitted).toBe(before + 2);
    // Each response that ends hands its slot to the next waiter: no refusal, nothing over the bound.
    for (let i = 0; i < 2; i++) {
      held.shift()!.end('done');
      await once(server, 'admitted');
      expect(admitted).toBe(before + 3 + i);
    }
    held.splice(0).forEach((res) => res.end('done'));
    expect((await Promise.all([...running, ...waiting])).map((response) => response.status)).toEqual([200, 200, 200, 200]);
    while (limiter.keys > 0) await new Promise((resolve) => setImmediate(resolve));
    expect(limiter.waiting).toBe(0);
  });
});
