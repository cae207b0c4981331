import type { Selectable } from 'kysely';
import type { Tenants, Users } from '../../__generated__/database.js';

export type TenantRow = Selectable<Tenants>;
export type UserRow = Selectable<Users>;
/** Viewer has no row of its own: its fields are loaded from the request's principal. */
export type ViewerParent = Record<string, never>;
