import { copyFile, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { createServer, connect, type Server, type Socket } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { MIGRATIONS_DIR } from '../../src/db/sql-file-migrations.js';
import { startTestServer } from '../support/server.js';

async function get(port: number, pathname: string): Promise<{ status: number; json: any }> {
  const response = await fetch(`http://127.0.0.1:${port}${pathname}`);
  return { status: response.status, json: await response.json() };
}

describe('GET /ready', () => {
  it('answers 200 when the database answers and every shipped migration is applied', async () => {
    const server = await startTestServer({ migrations: { ownerUrl: inject('ownerUrl') } });
    try {
      expect(await get(server.port, '/ready')).toEqual({ status: 200, json: { status: 'ready' } });
      expect(await get(server.port, '/health')).toEqual({ status: 200, json: { status: 'ok' } });
    } finally {
      await server.close();
    }
  });

  it('answers 503 naming the migrations the database lacks, while /health stays 200', async () => {
    const directory = await mkdtemp(path.join(os.tmpdir(), 'tenantgraph-migrations-'));
    try {
      for (const file of await readdir(MIGRATIONS_DIR)) await copyFile(path.join(MIGRATIONS_DIR, file), path.join(directory, file));
      await writeFile(path.join(directory, '9999_not_applied_yet.sql'), 'select 1;');
      const server = await startTestServer({ migrations: { ownerUrl: inject('ownerUrl'), directory } });
      try {
        const ready = await get(server.port, '/ready');
        expect(ready.status).toBe(503);
        expect(ready.json).toEqual({ status: 'unavailable', reason: 'migrations pending: 9999_not_applied_yet' });
        expect((await get(server.port, '/health')).status).toBe(200);
      } finally {
        await server.close();
      }
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  });

  it('answers 503 while the database does not answer, and 200 once it is back', async () => {
    const target = new URL(inject('appUrl'));
    const proxy = await startProxy(target.hostname, Number(target.port || 5432));
    const appUrl = new URL(target);
    appUrl.hostname = '127.0.0.1';
    appUrl.port = String(proxy.port);
    const server = await startTestServer({ appUrl: appUrl.toString(), pool: { max: 2, acquireTimeoutMs: 1000 } });
    try {
      expect((await get(server.port, '/ready')).status).toBe(200);
      await proxy.stop();
      expect(await get(server.port, '/ready')).toEqual({ status: 503, json: { status: 'unavailable', reason: 'database unreachable' } });
      await proxy.start();
      expect(await get(server.port, '/ready')).toEqual({ status: 200, json: { status: 'ready' } });
    } finally {
      await server.close();
      await proxy.stop();
    }
  });
});

/** A TCP proxy in front of PostgreSQL that a test can cut (every connection dropped, nothing listening) and restore. */
async function startProxy(host: string, port: number) {
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  let listenPort = 0;
  const start = () =>
    new Promise<void>((resolve, reject) => {
      server = createServer((client) => {
        const upstream = connect(port, host);
        for (const socket of [client, upstream]) {
          sockets.add(socket);
          socket.on('error', () => {});
          socket.on('close', () => {
            sockets.delete(socket);
            client.destroy();
            upstream.destroy();
          });
        }
        client.pipe(upstream).pipe(client);
      });
      server.once('error', reject);
      server.listen(listenPort, '127.0.0.1', () => {
        listenPort = (server!.address() as { port: number }).port;
        resolve();
      });
    });
  await start();
  return {
    get port() {
      return listenPort;
    },
    start,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        if (!server?.listening) return resolve();
        server.close(() => resolve());
      }),
  };
}
