import { decodeGlobalId, type NodeType } from '../graphql/global-id.js';
import { isValidTenantId, isValidUserId } from '../ids/entity-ids.js';
import { UsageError } from './usage.js';

/** The node types a CLI flag can name, and the raw form each takes. */
const RAW_FORMS = {
  Tenant: { describe: 'a positive 64-bit integer in decimal', valid: isValidTenantId, normalize: (raw: string) => raw },
  User: { describe: 'a UUID', valid: (raw: string) => isValidUserId(raw.toLowerCase()), normalize: (raw: string) => raw.toLowerCase() },
} as const satisfies Partial<Record<NodeType, unknown>>;

export type IdFlagType = keyof typeof RAW_FORMS;

/**
 * The local id an id flag names: its raw form (a tenant's decimal id, a user's UUID) or the global id the API
 * shows for it (`viewer.tenant.id`, `User.id`: base64url of "Type:localId"), so an id copied from a GraphQL
 * response works as well as one from `tenant create`. Throws UsageError for anything else, and for a global id
 * of another type naming the expected and the received type.
 */
export function parseIdFlag(flag: string, type: IdFlagType, value: string): string {
  const raw = RAW_FORMS[type];
  if (raw.valid(value)) return raw.normalize(value);
  let decoded: ReturnType<typeof decodeGlobalId> | null = null;
  try {
    decoded = decodeGlobalId(value);
  } catch {
    decoded = null;
  }
  if (decoded && decoded.type !== type) {
    throw new UsageError(
      `${flag} must be a ${type} id, received a ${decoded.type} id (${JSON.stringify(value)}); pass ${raw.describe} or the ${type} id the API shows`,
    );
  }
  if (decoded) return decoded.localId;
  throw new UsageError(
    `${flag} must be a ${type.toLowerCase()} id (${raw.describe}, or the ${type} global id the API shows), received ${JSON.stringify(value)}`,
  );
}

/** The member `--user USER_ID` or `--email EMAIL` names (exactly one of them), as findMember takes it. */
export function parseMemberFlags(command: string, user: string | undefined, email: string | undefined): { userId: string } | { email: string } {
  if ((user === undefined) === (email === undefined)) throw new UsageError(`${command} needs exactly one of --user and --email`);
  return user !== undefined ? { userId: parseIdFlag('--user', 'User', user) } : { email: email! };
}
