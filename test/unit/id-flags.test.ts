import { describe, expect, it } from 'vitest';
import { auditCommand } from '../../src/cli/audit-command.js';
import { explainCommand } from '../../src/cli/explain-command.js';
import { parseIdFlag } from '../../src/cli/id-flags.js';
import { sqlCommand } from '../../src/cli/sql-command.js';
import { tenantCommand } from '../../src/cli/tenant-command.js';
import { tokenCommand } from '../../src/cli/token-command.js';
import { UsageError } from '../../src/cli/usage.js';
import { encodeGlobalId } from '../../src/graphql/global-id.js';

const TENANT = '9007199254740993';
const USER = '6f1c2d3e-4a5b-4c6d-8e7f-0123456789ab';
const tenantGid = encodeGlobalId('Tenant', TENANT);
const userGid = encodeGlobalId('User', USER);
const conversationGid = encodeGlobalId('Conversation', USER);

describe('parseIdFlag', () => {
  it('accepts the raw id and the global id the API shows, giving the local id', () => {
    expect(tenantGid).toMatch(/^VGVuYW50/);
    expect(userGid).toMatch(/^VXNlcj/);
    expect(parseIdFlag('--tenant', 'Tenant', TENANT)).toBe(TENANT);
    expect(parseIdFlag('--tenant', 'Tenant', tenantGid)).toBe(TENANT);
    expect(parseIdFlag('--user', 'User', USER.toUpperCase())).toBe(USER);
    expect(parseIdFlag('--user', 'User', userGid)).toBe(USER);
  });

  it.each([
    ['--user', 'User', tenantGid, /--user must be a User id, received a Tenant id/],
    ['--user', 'User', conversationGid, /--user must be a User id, received a Conversation id/],
    ['--tenant', 'Tenant', userGid, /--tenant must be a Tenant id, received a User id/],
  ] as const)('refuses for %s a global id of another type (%s expected, %s given), naming both', (flag, type, value, message) => {
    expect(() => parseIdFlag(flag, type, value)).toThrow(UsageError);
    expect(() => parseIdFlag(flag, type, value)).toThrow(message);
  });

  it.each([
    ['--tenant', 'Tenant', '12abc'],
    ['--tenant', 'Tenant', '0'],
    ['--user', 'User', '42'],
    ['--user', 'User', encodeGlobalId('User', 'not-a-uuid')],
    ['--tenant', 'Tenant', encodeGlobalId('Tenant', '-1')],
  ] as const)('refuses %s %s %j, saying which forms it takes', (flag, type, value) => {
    expect(() => parseIdFlag(flag, type, value)).toThrow(
      new RegExp(`${flag} must be a ${type.toLowerCase()} id \\(.*global id the API shows\\), received`),
    );
  });
});

describe('CLI id flags', () => {
  it('takes a Tenant global id for --tenant in every command that has one', () => {
    expect(auditCommand.parse(['--tenant', tenantGid])).toMatchObject({ tenantId: TENANT });
    expect(explainCommand.parse(['--tenant', tenantGid])).toMatchObject({ tenantId: TENANT });
    expect(sqlCommand.parse(['--tenant', tenantGid, '-c', 'select 1'])).toMatchObject({ tenantId: TENANT });
    expect(tokenCommand.parse(['--tenant', tenantGid, '--user', userGid])).toMatchObject({ tenantId: TENANT, member: { userId: USER } });
    expect(tenantCommand.parse(['create', '--name', 'N', '--admin-email', 'a@example.test', '--id', tenantGid])).toMatchObject({
      options: { id: TENANT },
    });
    expect(tenantCommand.parse(['export', '--tenant', tenantGid, '--out', 'x/'])).toMatchObject({ options: { tenantId: TENANT } });
    expect(tenantCommand.parse(['import', '--in', 'x/', '--tenant-id', tenantGid])).toMatchObject({ options: { tenantId: TENANT } });
    expect(tenantCommand.parse(['delete', '--tenant', tenantGid, '--confirm', 'N'])).toMatchObject({ options: { tenantId: TENANT } });
    expect(tenantCommand.parse(['suspend', '--tenant', tenantGid])).toMatchObject({ options: { tenantId: TENANT } });
    expect(tenantCommand.parse(['set-subject', '--tenant', tenantGid, '--user', userGid, '--subject', 'auth0|x'])).toMatchObject({
      options: { tenantId: TENANT, member: { userId: USER } },
    });
  });

  it('refuses a global id of the wrong type in every command', () => {
    expect(() => auditCommand.parse(['--tenant', userGid])).toThrow(/--tenant must be a Tenant id, received a User id/);
    expect(() => sqlCommand.parse(['--tenant', conversationGid, '-c', 'select 1'])).toThrow(/received a Conversation id/);
    expect(() => tokenCommand.parse(['--tenant', TENANT, '--user', tenantGid])).toThrow(/--user must be a User id, received a Tenant id/);
    expect(() => tenantCommand.parse(['create', '--name', 'N', '--admin-email', 'a@example.test', '--id', userGid])).toThrow(
      /--id must be a Tenant id, received a User id/,
    );
  });
});
