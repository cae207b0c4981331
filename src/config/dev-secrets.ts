import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { link, mkdir, readFile, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';

/** Secrets generated once for development and kept under DATA_DIR (git-ignored), so tokens survive restarts. */
export interface DevSecrets {
  postgresPassword: string;
  appPassword: string;
  jwtSecret: string;
}

const generate = (): string => randomBytes(32).toString('hex');

/**
 * Reads DATA_DIR/secrets.json, creating it (mode 0600) with fresh random values when missing.
 *
 * Processes starting at once (`npm start` and CLI commands) must agree on one set: the file is written whole
 * under a temporary name and linked into place, which fails if another process got there first — then its file
 * is the one everybody reads. No reader ever sees a half-written file.
 */
export async function loadDevSecrets(dataDir: string): Promise<DevSecrets> {
  const file = path.join(dataDir, 'secrets.json');
  if (existsSync(file)) return JSON.parse(await readFile(file, 'utf8')) as DevSecrets;
  const secrets: DevSecrets = { postgresPassword: generate(), appPassword: generate(), jwtSecret: generate() };
  await mkdir(dataDir, { recursive: true });
  const draft = `${file}.${process.pid}.tmp`;
  await writeFile(draft, `${JSON.stringify(secrets, null, 2)}\n`, { mode: 0o600 });
  try {
    await link(draft, file);
    return secrets;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    return JSON.parse(await readFile(file, 'utf8')) as DevSecrets;
  } finally {
    await unlink(draft).catch(() => {});
  }
}
