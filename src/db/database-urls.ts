import { createServer } from 'node:net';
import { connectClient } from './guarded-client.js';

/**
 * Small helpers for throw-away databases (tests, benchmark, codegen): URL surgery, dropping a database, and a
 * free loopback port for an embedded cluster.
 */

/** The same server and credentials, another database. */
export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

/** The same server and database, another login. */
export function withUser(url: string, user: string, password: string): string {
  const parsed = new URL(url);
  parsed.username = user;
  parsed.password = password;
  return parsed.toString();
}

/** Drops a database, disconnecting whoever is still connected to it. */
export async function dropDatabase(maintenanceUrl: string, name: string): Promise<void> {
  const client = await connectClient({ connectionString: maintenanceUrl });
  try {
    await client.query(`drop database if exists "${name.replaceAll('"', '""')}" with (force)`);
  } finally {
    await client.end();
  }
}

/** A loopback port that was free a moment ago (listen on 0, read the port, close). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}
