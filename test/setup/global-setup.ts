import type { TestProject } from 'vitest/node';
import { createTestDatabase } from '../../scripts/lib/scratch-database.js';

declare module 'vitest' {
  export interface ProvidedContext {
    ownerUrl: string;
    appUrl: string;
    operatorUrl: string;
  }
}

/** Migrates one database for the whole run; every test then creates its own tenants in it. */
export default async function setup(project: TestProject) {
  const database = await createTestDatabase();
  console.log(`[tenantgraph] tests run against ${database.description}`);
  project.provide('ownerUrl', database.ownerUrl);
  project.provide('appUrl', database.appUrl);
  project.provide('operatorUrl', database.operatorUrl);
  return async () => {
    await database.drop();
  };
}
