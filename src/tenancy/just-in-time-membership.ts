import { sql } from 'kysely';
import type { AppDatabase } from '../db/kysely.js';
import { beginTenantTransaction, commitOrRollBack } from './tenant-transaction.js';

/**
 * What a verified token asks for when its subject is not a member yet and just-in-time membership is on
 * (JWT_JIT_MEMBERSHIP): the role its role claim maps to, and the name and e-mail it carries.
 */
export interface JoinRequest {
  readonly role: 'ADMIN' | 'MEMBER';
  /** The token's `email`, or null (the member then gets `<subject>@jit.invalid`, which an admin can see for what it is). */
  readonly email: string | null;
  /** The token's `name`, or null (the e-mail's local part then). */
  readonly displayName: string | null;
}

/**
 * Makes `subject` a member of the tenant (users.external_subject), in a read-write bookkeeping transaction of that
 * tenant, as the app role under RLS, and writes the audit event `member.joined` (operation type LIFECYCLE, detail
 * the role) in the same transaction. Returns false when no member was added: another request added it first (then
 * it is a member, and the retried prologue finds it) or its e-mail is another member's (the token stays refused:
 * linking an existing account by e-mail is an operator's decision, `cli tenant set-subject`).
 *
 * SECURITY: only called for a token that was verified and whose tenant exists (the prologue resolved it) and is
 * not suspended (the prologue refuses suspension before membership). The caller retries the prologue once, which
 * checks the membership as always.
 */
export async function joinTenant(database: AppDatabase, tenantId: string, subject: string, join: JoinRequest, requestId: string): Promise<boolean> {
  const email = join.email ?? `${subject}@jit.invalid`.slice(-320);
  const displayName = (join.displayName ?? email.split('@')[0] ?? subject).slice(0, 200) || subject.slice(0, 200);
  const tx = await beginTenantTransaction(
    database,
    { tenantId, userId: null },
    { readOnly: false, statementTimeoutMs: 5000, idleInTransactionTimeoutMs: 5000 },
  );
  return commitOrRollBack(tx, async () => {
    const { rows } = await sql<{ id: string }>`
      insert into users (email, display_name, role, external_subject)
      -- A tenant id that names no tenant also reads as "not a member": then nothing is inserted.
      select ${email}, ${displayName}, ${join.role}::user_role, ${subject}
       where exists (select from tenants where id = app.current_tenant_id())
      on conflict do nothing
      returning id`.execute(tx);
    const joined = rows[0];
    if (joined) {
      await sql`
        insert into audit_events (created_at, user_id, request_id, source, operation_type, operation_name, outcome, duration_ms, detail)
        values (now(), ${joined.id}::uuid, ${requestId}, 'api', 'lifecycle', 'member.joined', 'committed', 0, ${join.role})`.execute(tx);
    }
    return joined !== undefined;
  });
}
