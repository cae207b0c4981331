import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exited, spawnServer } from './support/processes.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'tenantgraph-trusted-config-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** `npm start` with a broken GRAPHQL_TRUSTED_DOCUMENTS stops before it touches a database, saying what is wrong. */
async function startWith(manifest: string): Promise<{ status: unknown; stderr: string }> {
  const child = spawnServer({ GRAPHQL_TRUSTED_DOCUMENTS: manifest, DATA_DIR: path.join(dir, 'data'), PORT: '0' });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  return { status: await exited(child), stderr };
}

describe('GRAPHQL_TRUSTED_DOCUMENTS at boot', () => {
  it('refuses a path that cannot be read, naming it', async () => {
    const missing = path.join(dir, 'missing.json');
    const { status, stderr } = await startWith(missing);
    expect(status).not.toBe(0);
    expect(stderr).toMatch(/^Invalid configuration:\n {2}- GRAPHQL_TRUSTED_DOCUMENTS: cannot read /);
    expect(stderr).toContain(missing);
  });

  it('refuses a manifest whose id is not the hash of its text', async () => {
    const file = path.join(dir, 'tampered.json');
    await writeFile(file, JSON.stringify({ [`sha256:${'0'.repeat(64)}`]: 'query A { viewer { user { id } } }' }));
    const { status, stderr } = await startWith(file);
    expect(status).not.toBe(0);
    expect(stderr).toMatch(/is not the SHA-256 of its text/);
  });
});
