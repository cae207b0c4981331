import type { Selectable } from 'kysely';
import type { Messages } from '../../__generated__/database.js';

export type MessageRow = Selectable<Messages>;
