import { inject } from 'vitest';
import { withOwnerTransaction } from '../../src/admin/owner-client.js';
import { enterTenant } from '../../src/tenancy/enter-tenant.js';
import { encodeGlobalId } from '../../src/graphql/global-id.js';
import type { TestTenant } from './tenants.js';

/** Inserts, as the owner, a conversation of `count` messages of `length` characters; returns its global id. */
export async function createConversationWithMessages(tenant: TestTenant, count: number, length: number): Promise<string> {
  const id = await withOwnerTransaction(inject('ownerUrl'), async (client) => {
    await enterTenant(client, tenant.id);
    const { rows } = await client.query<{ id: string }>(`insert into conversations (title, created_by) values ('big', $1) returning id`, [
      tenant.admin.id,
    ]);
    await client.query(
      `insert into messages (conversation_id, author_id, body)
         select $1, $2, repeat(chr(97 + g % 26), $4::int) from generate_series(1, $3::int) g`,
      [rows[0]!.id, tenant.admin.id, count, length],
    );
    return rows[0]!.id;
  });
  return encodeGlobalId('Conversation', id);
}

/** `aliases` copies of a page of `first` message bodies of one conversation, in one document. */
export function aliasedBodiesQuery(conversationId: string, aliases: number, first = 100): string {
  const fields = Array.from(
    { length: aliases },
    (_, i) => `a${i}: conversation(id: ${JSON.stringify(conversationId)}) { messages(first: ${first}) { nodes { body } } }`,
  );
  return `{ ${fields.join(' ')} }`;
}
