import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { DETECTORS, type MaskStyle, type MaskingRuleConfig } from '../config/types.ts';
import { decodeColumnDefinition, type ColumnDefinition } from '../protocol/columns.ts';
import { BINARY_CHARSET, ColumnFlag, Type } from '../protocol/constants.ts';
import { decodeRowCells } from '../protocol/rows.ts';
import type { ResultMasker } from './types.ts';
import { binaryRow, col, computed, ctx, enc, engine, policy, textRow } from '../../test/helpers/policy.ts';

// Property: whatever the columns, the values and the masking rules, a masked row still scans with the column
// definitions the masker returns, in both protocols, and the text and binary protocols give the client the same
// values (so mysql2's `query` and `execute` agree).

type Cell = { text: string | Buffer; bin: Buffer } | null;
type Kind = 'varchar' | 'latin1' | 'blob' | 'int' | 'uint' | 'bigint' | 'double' | 'datetime' | 'decimal' | 'json';

const SENSITIVE = [
  '4111 1111 1111 1111', '5500-0000-0000-0004', 'jane@example.com', '536-22-1234', '+1 (415) 555-2671', '020 7946 0958',
  'DE89 3704 0044 0532 0130 00', 'AKIAIOSFODNN7EXAMPLE', 'ghp_16C7e42F292c6912E7710c838347Ae178B4a',
  `${Buffer.from('{"alg":"none"}').toString('base64url')}.eyJhIjoxfQ.`,
  '-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----',
];

const text = fc.oneof(
  fc.string({ maxLength: 30 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.constantFrom(...SENSITIVE),
  fc.tuple(fc.string({ maxLength: 10 }), fc.constantFrom(...SENSITIVE), fc.string({ maxLength: 10 })).map(([a, b, c]) => `${a} ${b} ${c}`),
  fc.tuple(fc.constantFrom(...SENSITIVE), fc.nat({ max: 400 })).map(([s, n]) => `${'x'.repeat(n)} ${s}`),
);

const pad = (n: number, w: number) => String(n).padStart(w, '0');

function cellOf(kind: Kind): fc.Arbitrary<Cell> {
  let a: fc.Arbitrary<Cell>;
  switch (kind) {
    case 'varchar':
      a = text.map((s) => ({ text: s, bin: enc.str(s) }));
      break;
    case 'latin1':
      a = fc.string({ maxLength: 30 }).map((s) => ({ text: Buffer.from(s, 'latin1'), bin: Buffer.from(s, 'latin1') }));
      break;
    case 'blob':
      a = fc.oneof(fc.uint8Array({ maxLength: 40 }).map((u) => Buffer.from(u)), text.map((s) => Buffer.from(s)))
        .map((b) => ({ text: b, bin: b }));
      break;
    case 'int':
      a = fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }).map((v) => ({ text: String(v), bin: enc.int32(v) }));
      break;
    case 'uint':
      a = fc.oneof(fc.integer({ min: 0, max: 2 ** 32 - 1 }), fc.constantFrom(4155552671, 536221234, 123456789))
        .map((v) => ({ text: String(v), bin: enc.int32(v) }));
      break;
    case 'bigint':
      a = fc.oneof(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), fc.constantFrom(4111111111111111n, 4012888888881881881n, 14155552671n, 1400000000000000000n))
        .map((v) => ({ text: String(v), bin: enc.int64(v) }));
      break;
    case 'double':
      a = fc.double({ noNaN: true, noDefaultInfinity: true }).map((v) => ({ text: String(v), bin: enc.double(v) }));
      break;
    case 'datetime':
      a = fc.record({ y: fc.integer({ min: 1000, max: 9999 }), mo: fc.integer({ min: 1, max: 12 }), d: fc.integer({ min: 1, max: 28 }), h: fc.integer({ min: 0, max: 23 }), mi: fc.integer({ min: 0, max: 59 }), s: fc.integer({ min: 0, max: 59 }) })
        .map(({ y, mo, d, h, mi, s }) => ({
          text: `${pad(y, 4)}-${pad(mo, 2)}-${pad(d, 2)} ${pad(h, 2)}:${pad(mi, 2)}:${pad(s, 2)}`,
          bin: enc.datetime(y, mo, d, h, mi, s),
        }));
      break;
    case 'decimal':
      a = fc.oneof(fc.bigInt({ min: -(10n ** 20n), max: 10n ** 20n }), fc.constantFrom(4111111111111111n, 536221234n))
        .map((v) => ({ text: String(v), bin: enc.str(String(v)) }));
      break;
    case 'json':
      a = fc.record({ n: fc.oneof(fc.integer(), fc.constantFrom(4111111111111111, 4155552671)), s: text })
        .map((o) => JSON.stringify(o)).map((s) => ({ text: s, bin: enc.str(s) }));
      break;
  }
  return fc.option(a, { freq: 6, nil: null });
}

function defOf(kind: Kind, name: string, origin: boolean): ColumnDefinition {
  const mk = origin ? col : computed;
  switch (kind) {
    case 'varchar': return mk(name);
    case 'latin1': return mk(name, { charset: 8 });
    case 'blob': return mk(name, { type: Type.BLOB, charset: BINARY_CHARSET, flags: ColumnFlag.BLOB | ColumnFlag.BINARY });
    case 'int': return mk(name, { type: Type.LONG, charset: BINARY_CHARSET, flags: ColumnFlag.NOT_NULL });
    case 'uint': return mk(name, { type: Type.LONG, charset: BINARY_CHARSET, flags: ColumnFlag.UNSIGNED });
    case 'bigint': return mk(name, { type: Type.LONGLONG, charset: BINARY_CHARSET });
    case 'double': return mk(name, { type: Type.DOUBLE, charset: BINARY_CHARSET, decimals: 31 });
    case 'datetime': return mk(name, { type: Type.DATETIME, charset: BINARY_CHARSET });
    case 'decimal': return mk(name, { type: Type.NEWDECIMAL, charset: BINARY_CHARSET });
    case 'json': return mk(name, { type: Type.JSON, charset: BINARY_CHARSET });
  }
}

const KINDS: Kind[] = ['varchar', 'latin1', 'blob', 'int', 'uint', 'bigint', 'double', 'datetime', 'decimal', 'json'];
const STYLES: MaskStyle[] = ['redact', 'partial', 'hash', 'null'];

const scenario = fc
  .array(fc.record({ kind: fc.constantFrom(...KINDS), style: fc.option(fc.constantFrom(...STYLES), { freq: 2 }), origin: fc.boolean() }), { minLength: 1, maxLength: 8 })
  .chain((columns) => fc.record({
    columns: fc.constant(columns),
    detect: fc.subarray([...DETECTORS]),
    detectStyle: fc.constantFrom(...STYLES),
    rows: fc.array(fc.tuple(...columns.map((c) => cellOf(c.kind))), { minLength: 1, maxLength: 4 }),
  }));

function decoded(m: ResultMasker | null, defs: ColumnDefinition[], format: 'text' | 'binary', row: Buffer) {
  if (m === null) return decodeRowCells(format, row, defs);
  const after = defs.map((c, i) => (m.columnDefs[i] ? decodeColumnDefinition(m.columnDefs[i]!) : c));
  return decodeRowCells(format, m.maskRow(row) ?? row, after);
}

test('a masked row scans with the returned definitions, and both protocols agree', () => {
  fc.assert(
    fc.property(scenario, ({ columns, detect, detectStyle, rows }) => {
      const defs = columns.map((c, i) => defOf(c.kind, `c${i}`, c.origin));
      const masking: MaskingRuleConfig[] = columns.flatMap((c, i) => (c.style ? [{ columns: [`app.users.c${i}`], style: c.style }] : []));
      if (detect.length > 0) masking.push({ detect, style: detectStyle });
      const p = policy({ masking });
      const e = engine();
      const mt = e.masker(p, defs, null, 0, ctx, false);
      const mb = e.masker(p, defs, null, 0, ctx, true);
      assert.equal(mt === null, mb === null);
      if (mt && mb) assert.deepEqual(mt.columnDefs, mb.columnDefs, 'the same column definitions for both protocols');
      for (const row of rows) {
        const t = decoded(mt, defs, 'text', textRow(row.map((c) => (c === null ? null : c.text))));
        const b = decoded(mb, defs, 'binary', binaryRow(defs, row.map((c) => (c === null ? null : c.bin))));
        assert.deepEqual(t, b);
        const anyColumnRule = columns.some((c) => c.style !== null);
        const strictest = (['null', 'redact', 'hash', 'partial'] as const).find((s) => columns.some((c) => c.style === s));
        columns.forEach((c, i) => {
          // A column with an origin gets its own rule's style. Without one (computed) and with no statement to
          // explain it, every column rule could apply: the strictest style is used.
          const style = c.origin ? c.style : anyColumnRule ? strictest : null;
          if (style === 'null') assert.equal(t[i], null);
          if (style === 'redact' && row[i] !== null) assert.equal(t[i], '****');
          if (style === 'hash' && row[i] !== null) assert.match(t[i] as string, /^[A-Za-z0-9_-]{16}$/);
        });
      }
    }),
    { numRuns: 400 },
  );
});
