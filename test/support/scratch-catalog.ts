import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { withOwnerClient } from './owner-db.js';

// For the catalog-rule tests (test/rls/catalog.test.ts, citus-rules.test.ts): negative controls build broken
// objects inside a transaction that is rolled back and look only at the problems naming their own scratch objects.

/** Runs `work` as the owner inside a transaction that is always rolled back. */
export function inRolledBackTransaction<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  return withOwnerClient(async (client) => {
    await client.query('begin');
    try {
      return await work(client);
    } finally {
      await client.query('rollback');
    }
  });
}

/** A name no other object has: every scratch table, index and function of one control carries it. */
export function scratchName(): string {
  return `scratch_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
}

/** The problems that name `scratch`, sorted. */
export function about(problems: string[], scratch: string): string[] {
  return problems.filter((problem) => problem.includes(scratch)).sort();
}
