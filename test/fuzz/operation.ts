import type { LeakDetector } from './leak-detector.js';
import type { OperationSpec } from './operation-specs.js';
import type { TenantModel, UserModel } from './tenant-model.js';

export type Rejection = 'BAD_USER_INPUT' | 'NOT_FOUND' | 'FORBIDDEN';

/** The run as the operations see it: every tenant's model, the leak detector, and counters. */
export interface RunState {
  tenants: TenantModel[];
  leaks: LeakDetector;
  /** The wave being run; objects created in it carry this number. */
  wave: number;
  nextSeq(): number;
  tokenFor(tenant: TenantModel, userLocalId: string): Promise<string>;
}

/**
 * One tenant around one wave. `before` is a copy taken before the wave was sent, `after` the model once every
 * write of the wave was applied. A read that ran concurrently with writes of its own tenant may see any mix of
 * the two, so each value is checked against both; `exact` (nothing of this tenant changed) checks it against
 * the one state, including the exact page of every list.
 */
export interface Views {
  before: TenantModel;
  after: TenantModel;
  exact: boolean;
  wave: number;
}

export interface ApplyContext {
  state: RunState;
  before: TenantModel;
  /** Checks that need every write of the wave applied first (e.g. concurrent messageCounts). */
  afterWave(check: () => void): void;
  /** The messageCounts that posts of this wave reported, by conversation id (shared by the wave's writes). */
  reportedCounts: Map<string, number[]>;
}

/** An operation resolved against the model: what to send, as whom, and what must come back. */
export interface ResolvedOperation {
  label: string;
  spec: OperationSpec;
  tenant: TenantModel;
  user: UserModel;
  query: string;
  variables: Record<string, unknown>;
  /** The error code the model predicts, or null for success. */
  rejection: Rejection | null;
  /** No model predicts it (a derived operation): success or any client error passes, a server error never. */
  anyClientOutcome?: boolean;
  write: boolean;
  /** Two writes with the same key do not commute (two renames of one conversation), so they go in separate waves. */
  conflictKey: string | null;
  /** For a successful write: checks the payload and records the change in the model. */
  apply?(data: any, context: ApplyContext): Promise<void>;
  /** For a successful read: checks the data against the views, and records cursors and ids seen. */
  check?(data: any, views: Views, state: RunState): void;
}

export function pageSize(first: number | null): number {
  return first ?? 20;
}

export function invalidFirst(first: number | null): boolean {
  return first !== null && (first < 0 || first > 100);
}
