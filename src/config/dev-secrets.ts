import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

/** Secrets generated once for development and kept under DATA_DIR (git-ignored), so tokens survive restarts. */
export interface DevSecrets {
  postgresPassword: string;
  appPassword: string;
  jwtSecret: string;
}

const generate = (): string => randomBytes(32).toString('hex');

/** Reads DATA_DIR/secrets.json, creating it (mode 0600) with fresh random values when missing. */
export async function loadDevSecrets(dataDir: string): Promise<DevSecrets> {
  const file = path.join(dataDir, 'secrets.json');
  if (existsSync(file)) return JSON.parse(await readFile(file, 'utf8')) as DevSecrets;
  const secrets: DevSecrets = { postgresPassword: generate(), appPassword: generate(), jwtSecret: generate() };
  await mkdir(dataDir, { recursive: true });
  await writeFile(file, `${JSON.stringify(secrets, null, 2)}\n`, { mode: 0o600 });
  return secrets;
}
