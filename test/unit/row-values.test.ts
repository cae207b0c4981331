import { describe, expect, it } from 'vitest';
import { toIsoTimestamp } from '../../src/graphql/row-values.js';

describe('toIsoTimestamp', () => {
  it('rewrites the UTC text form exactly as Date would, without parsing it', () => {
    const texts = [
      '2026-01-02 03:04:05.123456+00',
      '2026-01-02 03:04:05.1+00',
      '2026-01-02 03:04:05.12+00',
      '2026-01-02 03:04:05.000999+00',
      '2026-01-02 03:04:05+00',
      '1999-12-31 23:59:59.999999+00',
      '2024-02-29 00:00:00.5+00',
    ];
    for (const text of texts) expect(toIsoTimestamp(text), text).toBe(new Date(text).toISOString());
  });

  it('leaves other offsets and forms to Date', () => {
    for (const text of ['2026-01-02 04:04:05.123456+01', '2026-01-02 03:04:05.5-05:30', '2026-01-02T03:04:05.123Z']) {
      expect(toIsoTimestamp(text), text).toBe(new Date(text).toISOString());
    }
  });

  it('agrees with Date on random instants between 1970 and 2100', () => {
    for (let i = 0; i < 2_000; i++) {
      const ms = Math.floor(Math.random() * 4_102_444_800_000);
      const micros = String(Math.floor(Math.random() * 1_000_000))
        .padStart(6, '0')
        .replace(/0+$/, '');
      const iso = new Date(ms).toISOString();
      const text = `${iso.slice(0, 10)} ${iso.slice(11, 19)}${micros ? `.${micros}` : ''}+00`;
      expect(toIsoTimestamp(text), text).toBe(new Date(text).toISOString());
    }
  });
});
