import type { Selectable } from 'kysely';
import type { AuditEvents } from '../../__generated__/database.js';

export type AuditEventRow = Selectable<AuditEvents>;
