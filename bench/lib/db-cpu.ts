import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { connectClient } from '../../src/db/guarded-client.js';

/**
 * CPU time of the PostgreSQL backends that serve one benchmarked server, read from /proc/<pid>/stat (utime +
 * stime). Only possible when PostgreSQL runs on this machine; the pools keep their connections open between
 * runs (each run is preceded by a warm-up burst), so the same backends serve the whole measured run.
 */
export class BackendCpu {
  readonly #client: pg.Client;
  readonly #ticksPerSecond: number;

  private constructor(client: pg.Client) {
    this.#client = client;
    this.#ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  }

  static async connect(ownerUrl: string): Promise<BackendCpu> {
    const client = await connectClient({ connectionString: ownerUrl, application_name: 'tenantgraph-bench-monitor' });
    return new BackendCpu(client);
  }

  /** CPU ms so far of each backend of a role and one of its application names (a server's pools: requests, audit). */
  async sample(who: { user: string; applicationNames: readonly string[] }): Promise<Map<number, number>> {
    const { rows } = await this.#client.query<{ pid: number }>(
      'select pid from pg_stat_activity where usename = $1 and application_name = any($2::text[]) and pid <> pg_backend_pid()',
      [who.user, who.applicationNames],
    );
    const sample = new Map<number, number>();
    for (const { pid } of rows) {
      try {
        // "pid (comm) state ppid ..." — utime and stime are fields 14 and 15; comm may contain spaces.
        const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
        sample.set(pid, ((Number(fields[11]) + Number(fields[12])) * 1000) / this.#ticksPerSecond);
      } catch {
        // the backend exited between the query and the read
      }
    }
    return sample;
  }

  /** CPU ms spent between two samples by the backends present in both, plus all of those that are new. */
  static elapsed(before: Map<number, number>, after: Map<number, number>): number {
    let total = 0;
    for (const [pid, ms] of after) total += ms - (before.get(pid) ?? 0);
    return total;
  }

  close(): Promise<void> {
    return this.#client.end();
  }
}
