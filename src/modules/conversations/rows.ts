import type { Selectable } from 'kysely';
import type { Conversations } from '../../__generated__/database.js';

export type ConversationRow = Selectable<Conversations>;
