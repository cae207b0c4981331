import { describe, expect, it } from 'vitest';
import { enterTenant } from '../../src/tenancy/enter-tenant.js';
import { withOwnerClient } from '../support/owner-db.js';
import { createTestTenant } from '../support/tenants.js';
import { verifyPlacementInEveryTenantTable } from './ground-truth.js';
import { LeakDetector, newMarker } from './leak-detector.js';

// The fuzzer's catalog-wide ground truth (every tenant table listTenantTables finds) must be able to fail: a row
// of tenant A that holds tenant B's marker, written as the owner inside a transaction that is rolled back.

describe("the fuzzer's placement check over every tenant table", () => {
  it("passes on the tenants' own rows and names the table of a row that holds another tenant's marker", async () => {
    const [a, b] = [await createTestTenant(), await createTestTenant()];
    const tenants = [
      { tenantId: a.id, marker: newMarker('gtcheck0', 0) },
      { tenantId: b.id, marker: newMarker('gtcheck0', 1) },
    ];
    const leaks = new LeakDetector();
    for (const tenant of tenants) leaks.register(tenant.tenantId, tenant.marker);
    await withOwnerClient(async (owner) => {
      await owner.query('begin');
      try {
        await verifyPlacementInEveryTenantTable(owner, tenants, leaks);
        await enterTenant(owner, a.id);
        await owner.query('insert into conversations (title, created_by) values ($1, $2)', [`${tenants[1]!.marker} strayed`, a.admin.id]);
        await expect(verifyPlacementInEveryTenantTable(owner, tenants, leaks)).rejects.toThrow(
          /rows of public\.conversations hold another tenant's data/,
        );
      } finally {
        await owner.query('rollback');
      }
    });
  });
});
