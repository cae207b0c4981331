import type { ResolvedOperation, RunState } from './operation.js';
import type { OperationSpec } from './operation-specs.js';
import { derived } from './derived-operations.js';
import * as read from './read-operations.js';
import * as write from './write-operations.js';

/** Picks the caller (tenant and member by index) and resolves the operation against the model. */
export function resolveOperation(spec: OperationSpec, state: RunState, index: number): ResolvedOperation {
  const tenant = state.tenants[spec.tenant % state.tenants.length]!;
  const members = [...tenant.users].sort((a, b) => a.seq - b.seq);
  const user = members[spec.user % members.length]!;
  const label = `wave ${state.wave} operation ${index}: ${spec.op} by ${user.role} ${user.email} of tenant ${tenant.index}`;
  switch (spec.op) {
    case 'viewer':
      return read.viewer({ label, spec, tenant, user });
    case 'node':
      return read.node({ label, spec, tenant, user }, state);
    case 'nodes':
      return read.nodes({ label, spec, tenant, user }, state);
    case 'conversation':
      return read.conversation({ label, spec, tenant, user }, state);
    case 'conversations':
      return read.conversations({ label, spec, tenant, user }, state);
    case 'dashboard':
      return read.dashboard({ label, spec, tenant, user });
    case 'users':
      return read.users({ label, spec, tenant, user }, state);
    case 'auditEvents':
      return read.auditEvents({ label, spec, tenant, user }, state);
    case 'createConversation':
      return write.createConversation({ label, spec, tenant, user });
    case 'renameConversation':
      return write.renameConversation({ label, spec, tenant, user }, state);
    case 'archiveConversation':
      return write.archiveConversation({ label, spec, tenant, user }, state);
    case 'postMessage':
      return write.postMessage({ label, spec, tenant, user }, state);
    case 'inviteUser':
      return write.inviteUser({ label, spec, tenant, user });
    case 'derived':
      return derived({ label, spec, tenant, user }, state);
  }
}
