import { mkdir, open, readdir, readFile, rm, unlink } from 'node:fs/promises';
import path from 'node:path';

/**
 * Cross-process coordination around one embedded PostgreSQL data directory, with plain files beside it (Node has
 * no flock): an exclusive lock (`<dataDir>.lock`, created with O_EXCL, holding the owner's pid) and a register of
 * the processes using the cluster (`<dataDir>.users/<pid>`).
 *
 * Why: `npm start` and any number of CLI commands may start at once on the same DATA_DIR. Without the lock two of
 * them ran initdb or started a postmaster on the same directory and one failed; without the register the first
 * CLI to finish stopped PostgreSQL under the others. Entries of dead processes (SIGKILL) are stale and ignored.
 */

const LOCK_WAIT_MS = 120_000;
const RETRY_MS = 50;

/** Runs `work` while holding the data directory's lock; waits for another live holder, takes over a dead one's. */
export async function withDataDirLock<T>(dataDir: string, work: () => Promise<T>): Promise<T> {
  const lockFile = `${dataDir}.lock`;
  await mkdir(path.dirname(lockFile), { recursive: true });
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      const handle = await open(lockFile, 'wx');
      await handle.writeFile(String(process.pid));
      await handle.close();
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = Number(await readFile(lockFile, 'utf8').catch(() => ''));
      // An empty file is a holder between open() and write(): wait for it like any live holder.
      if (Number.isInteger(holder) && holder > 0 && !isAlive(holder)) {
        await unlink(lockFile).catch(() => {});
        continue;
      }
      if (Date.now() > deadline) {
        throw new Error(`Waited ${LOCK_WAIT_MS / 1000} s for ${lockFile} (held by pid ${holder}); if no such process runs, delete the file.`);
      }
      await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
    }
  }
  try {
    return await work();
  } finally {
    await unlink(lockFile).catch(() => {});
  }
}

/** Records this process as a user of the cluster. Call it under the lock. */
export async function registerUser(dataDir: string): Promise<void> {
  const dir = `${dataDir}.users`;
  await mkdir(dir, { recursive: true });
  const handle = await open(path.join(dir, String(process.pid)), 'w');
  await handle.close();
}

/** Removes this process from the register and answers how many other live processes still use the cluster. */
export async function unregisterUser(dataDir: string): Promise<number> {
  const dir = `${dataDir}.users`;
  await rm(path.join(dir, String(process.pid)), { force: true });
  const entries = await readdir(dir).catch(() => [] as string[]);
  let others = 0;
  for (const entry of entries) {
    const pid = Number(entry);
    if (Number.isInteger(pid) && pid > 0 && isAlive(pid)) others++;
    else await rm(path.join(dir, entry), { force: true });
  }
  return others;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
