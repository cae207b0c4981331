import { describe, expect, it } from 'vitest';
import { withAppClient } from '../support/owner-db.js';
import { createTestTenant } from '../support/tenants.js';

// migrations/0022: app.enter_tenant checks the shape of a member (and of an external tenant id) with
// app.is_external_name instead of the regular expression of 0012, which cost ~50 µs of database CPU per prologue.
// The two must accept exactly the same names: the expression is still the CHECK of tenants.external_id and
// users.external_subject, so compare them on the boundaries and on generated strings.
const EXPRESSION = String.raw`^[!-&(-[\]-~]{1,255}$`;

describe('app.is_external_name', () => {
  it('accepts exactly what the CHECK expression of external names accepts', async () => {
    const boundaries = [
      '',
      'a',
      'a'.repeat(255),
      'a'.repeat(256),
      'é'.repeat(255),
      'org_2abc',
      'a b',
      "a'b",
      'a\\b',
      'a"b',
      'a\nb',
      'a\tb',
      '~!&(',
      '[]',
      '{|}',
      'ü',
      '\u007f',
      '3390491d-d9b6-48b9-a681-959a2426e0df',
    ];
    // Seeded: every printable ASCII character and a few others, strings of 1 to 300 characters.
    let seed = 42;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const alphabet = [...Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i)), '\n', '\u0001', 'é', '€', '😀'];
    const generated = Array.from({ length: 2000 }, () => {
      const length = random() < 0.1 ? 250 + Math.floor(random() * 10) : 1 + Math.floor(random() * 20);
      // Mostly allowed characters, so that long accepted names are common too.
      return Array.from({ length }, () => (random() < 0.97 ? pick('abcXYZ019_-.:|~!') : alphabet[Math.floor(random() * alphabet.length)]!)).join('');
      function pick(from: string) {
        return from[Math.floor(random() * from.length)]!;
      }
    });
    const names = [...boundaries, ...generated];
    const rows = await withAppClient(
      async (client) =>
        (
          await client.query<{ name: string; expression: boolean; check: boolean }>(
            'select name, name ~ $2 as expression, app.is_external_name(name) as check from unnest($1::text[]) as name',
            [names, EXPRESSION],
          )
        ).rows,
    );
    expect(rows).toHaveLength(names.length);
    expect(rows.filter((row) => row.expression !== row.check)).toEqual([]);
    // Both outcomes are well represented, so the comparison means something.
    expect(rows.filter((row) => row.check).length).toBeGreaterThan(500);
    expect(rows.filter((row) => !row.check).length).toBeGreaterThan(100);
  });

  it('still makes app.enter_tenant refuse a malformed member, and a NULL name is no name', async () => {
    const tenant = await createTestTenant();
    await withAppClient(async (client) => {
      for (const member of ['', 'a b', "x'y", 'a'.repeat(256)]) {
        await client.query('begin');
        await expect(client.query('select * from app.enter_tenant($1, $2, 1000, 1000)', [tenant.id, member])).rejects.toMatchObject({
          code: '22023',
        });
        await client.query('rollback');
      }
      const { rows } = await client.query<{ check: boolean | null }>('select app.is_external_name(null) as check');
      expect(rows[0]!.check).not.toBe(true);
    });
  });
});
