import { enterTenant } from '../tenancy/enter-tenant.js';
import { withOwnerTransaction } from './owner-client.js';
import { insertTenantWithAdmin, type ProvisionedTenant } from './tenants.js';

const DEMO_TENANTS = [
  { name: 'Acme Corp', domain: 'acme.test', people: ['Ada Admin', 'Bob Builder', 'Cleo Coder'] },
  { name: 'Globex', domain: 'globex.test', people: ['Gina Globex', 'Hank Scorpio', 'Ivy Ops'] },
  { name: 'Initech', domain: 'initech.test', people: ['Peter Gibbons', 'Milton Waddams', 'Samir Nagheenanajar'] },
];

const TOPICS = ['Launch plan', 'Weekly sync', 'Customer feedback', 'Hiring', 'Incident review'];

/**
 * Seeds three demo tenants with members, conversations and messages, unless any tenant exists.
 * Returns the tenants it created (empty when it did nothing).
 */
export async function seedDemoData(ownerUrl: string): Promise<ProvisionedTenant[]> {
  return withOwnerTransaction(ownerUrl, async (client) => {
    // Serialises concurrent seeders; the check below then sees the other one's tenants.
    await client.query("select pg_advisory_xact_lock(hashtext('tenantgraph.seed'))");
    const { rows } = await client.query<{ any: boolean }>('select exists (select from tenants) as any');
    if (rows[0]?.any) return [];
    const created: ProvisionedTenant[] = [];
    for (const demo of DEMO_TENANTS) {
      const [admin, ...members] = demo.people;
      const tenant = await insertTenantWithAdmin(client, {
        name: demo.name,
        adminEmail: emailOf(admin!, demo.domain),
        adminName: admin!,
      });
      await enterTenant(client, tenant.tenant.id);
      const userIds = [tenant.user.id];
      for (const person of members) {
        const { rows: inserted } = await client.query<{ id: string }>('insert into users (email, display_name) values ($1, $2) returning id', [
          emailOf(person, demo.domain),
          person,
        ]);
        userIds.push(inserted[0]!.id);
      }
      for (const [index, topic] of TOPICS.entries()) {
        const { rows: conversation } = await client.query<{ id: string }>(
          'insert into conversations (title, created_by, archived) values ($1, $2, $3) returning id',
          [`${demo.name}: ${topic}`, userIds[index % userIds.length], index === TOPICS.length - 1],
        );
        for (let n = 1; n <= 4; n++) {
          await client.query('insert into messages (conversation_id, author_id, body) values ($1, $2, $3)', [
            conversation[0]!.id,
            userIds[(index + n) % userIds.length],
            `${topic} — message ${n} from ${demo.name}`,
          ]);
        }
      }
      created.push(tenant);
    }
    return created;
  });
}

function emailOf(person: string, domain: string): string {
  return `${person.split(' ')[0]!.toLowerCase()}@${domain}`;
}
