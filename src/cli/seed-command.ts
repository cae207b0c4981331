import { parseArgs } from 'node:util';
import { seedDemoData } from '../admin/demo-data.js';
import { withDatabase, type CliCommand } from './cli-context.js';

/** `seed`: adds the demo tenants when the database has no tenant yet (the same data `npm start` seeds). */
export const seedCommand: CliCommand<void> = {
  parse(args) {
    parseArgs({ args, options: {}, strict: true });
  },
  async run(_options, env, io) {
    const seeded = await withDatabase(env, io, (database) => seedDemoData(database.ownerUrl));
    if (!seeded.length) return io.out('the database already has tenants; nothing seeded');
    for (const { tenant, user } of seeded) io.out(`seeded tenant ${tenant.id} ${tenant.name} (admin ${user.email}, user ${user.id})`);
  },
};
