import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { MaskingRuleConfig } from '../config/types.ts';
import { decodeColumnDefinition, type ColumnDefinition } from '../protocol/columns.ts';
import { BINARY_CHARSET, ColumnFlag, DEFAULT_CHARSET, Type } from '../protocol/constants.ts';
import { decodeRowCells, scanTextRow, type CellValue } from '../protocol/rows.ts';
import type { Classification } from '../sql/types.ts';
import type { ResultMasker } from './types.ts';
import {
  bigintCol, binaryRow, cls, col, computed, ctx, enc, engine, HASH_KEY, intCol, policy, textRow,
} from '../../test/helpers/policy.ts';
import { createPolicyEngine } from './index.ts';

const RULES: MaskingRuleConfig[] = [
  { columns: ['app.users.ssn'], style: 'redact' },
  { columns: ['app.users.email'], style: 'partial' },
  { columns: ['app.users.salary'], style: 'hash' },
  { columns: ['*.*.secret'], style: 'null' },
];
const P = policy({ masking: RULES });

function masker(columns: ColumnDefinition[], c: Classification | null, binary = false, p = P): ResultMasker | null {
  return engine().masker(p, columns, c, 0, ctx, binary);
}

/** The definitions the client receives. */
function defsAfter(m: ResultMasker, columns: ColumnDefinition[]): ColumnDefinition[] {
  return columns.map((c, i) => (m.columnDefs[i] ? decodeColumnDefinition(m.columnDefs[i]!) : c));
}

/** Masks one text row and decodes what the client would see. */
function maskText(m: ResultMasker, columns: ColumnDefinition[], values: (string | Buffer | null)[]): CellValue[] | null {
  const out = m.maskRow(textRow(values));
  return out === null ? null : decodeRowCells('text', out, defsAfter(m, columns));
}

function maskBinary(m: ResultMasker, columns: ColumnDefinition[], values: (Buffer | null)[]): CellValue[] | null {
  const out = m.maskRow(binaryRow(columns, values));
  return out === null ? null : decodeRowCells('binary', out, defsAfter(m, columns));
}

describe('masker: which columns', () => {
  test('by origin: plain references and aliases, any case', () => {
    const columns = [intCol('id'), col('name'), col('ssn'), col('email'), col('x', { orgName: 'SSN', schema: 'APP', orgTable: 'Users' })];
    const m = masker(columns, cls('SELECT id, name, ssn, email, ssn AS x FROM users'))!;
    assert.deepEqual(m.styles, [null, null, 'redact', 'partial', 'redact']);
    assert.equal(m.examinesEveryRow, false);
    assert.deepEqual(maskText(m, columns, ['1', 'Ann', '536-22-1234', 'ann@example.com', '536-22-1234']),
      ['1', 'Ann', '****', 'a***@example.com', '****']);
  });

  test('origin alone is enough: a prepared statement without a classification', () => {
    const columns = [col('name'), col('ssn')];
    const m = masker(columns, null)!;
    assert.deepEqual(m.styles, [null, 'redact']);
  });

  test('by lineage: functions, derived tables, UNION branches and CTEs', () => {
    const cases: [string, ColumnDefinition[], (string | null)[]][] = [
      ["SELECT CONCAT(ssn, '') AS c, LOWER(email) AS e, id FROM users", [computed('c'), computed('e'), intCol('id')], ['redact', 'partial', null]],
      ['SELECT x FROM (SELECT LOWER(email) x FROM users) d', [col('x', { schema: '', table: 'd', orgTable: 'd', orgName: 'x' })], ['partial']],
      ['SELECT name FROM t UNION SELECT ssn FROM users', [col('name', { table: 't', orgTable: 't' })], ['redact']],
      ['WITH c AS (SELECT salary FROM users) SELECT salary + 1 AS s FROM c', [computed('s')], ['hash']],
      ['SELECT (SELECT MAX(ssn) FROM users) AS m', [computed('m')], ['redact']],
    ];
    for (const [sql, columns, styles] of cases) {
      const m = masker(columns, cls(sql));
      assert.ok(m, sql);
      assert.deepEqual(m.styles, styles, sql);
    }
  });

  test('the strictest style wins when a value mixes masked columns', () => {
    const m = masker([computed('c')], cls("SELECT CONCAT(email, salary, ssn) AS c FROM users"))!;
    assert.deepEqual(m.styles, ['redact']);
  });

  test('a star: positions around it still line up', () => {
    const columns = [intCol('id'), col('name'), col('ssn'), computed('c')];
    const m = masker(columns, cls("SELECT u.*, CONCAT(ssn, '') c FROM users u"))!;
    assert.deepEqual(m.styles, [null, null, 'redact', 'redact']);
  });

  test('nothing to mask: no masker at all (rows are forwarded as they are)', () => {
    assert.equal(masker([intCol('id'), col('name')], cls('SELECT id, name FROM users')), null);
    assert.equal(masker([computed('n', { type: Type.LONGLONG, charset: BINARY_CHARSET })], cls('SELECT COUNT(*) AS n FROM users')), null);
    assert.equal(engine().masker(policy(), [col('ssn')], null, 0, ctx, false), null, 'a policy without masking');
    const detectOnly = policy({ masking: [{ detect: ['email'], style: 'redact' }] });
    assert.equal(engine().masker(detectOnly, [col('d', { type: Type.DATETIME, charset: BINARY_CHARSET })], null, 0, ctx, false), null,
      'detectors, but no column they can examine');
    assert.equal(engine().masker(detectOnly, [intCol('n')], null, 0, ctx, false), null, 'email does not look at integers');
  });

  test('unknown lineage fails closed: unexplained columns of a statement reading masked tables are masked', () => {
    // No classification (a procedure's result): every column rule could apply; the strictest style is used.
    const columns = [col('name'), computed('c')];
    assert.deepEqual(masker(columns, null)!.styles, [null, 'null']);
    const q = policy({ masking: RULES.slice(0, 2) });
    assert.deepEqual(masker(columns, null, false, q)!.styles, [null, 'redact']);
    // Not parsed.
    const unparsed = cls("SELECT name, CONCAT(ssn, '') c FROM users PROCEDURE ANALYSE()");
    assert.equal(unparsed.parsed, false);
    assert.deepEqual(masker(columns, unparsed, false, q)!.styles, [null, 'redact']);
    // Column counts that do not line up.
    assert.deepEqual(masker([...columns, computed('d')], cls("SELECT name, CONCAT(ssn, '') c FROM users"), false, q)!.styles, [null, 'redact', 'redact']);
    // MariaDB gives a derived table's column an origin (`app.d.x`): not a table the statement reads, so it is
    // not explained by it.
    const derived = cls("SELECT x FROM (SELECT ssn AS x FROM users) d PROCEDURE ANALYSE()");
    assert.equal(derived.parsed, false);
    assert.deepEqual(masker([col('x', { table: 'd', orgTable: 'd' }), col('name')], derived, false, q)!.styles, ['redact', null]);
    // A statement that reads no table with masked columns needs no fail-closed masking.
    assert.equal(masker([computed('c')], cls('SELECT a, b FROM orders'), false, q), null);
    // SHOW and DESCRIBE return no table data.
    assert.equal(masker([col('Field', { schema: 'information_schema', orgTable: 'COLUMNS', orgName: 'COLUMN_NAME' }), computed('Type')], cls('SHOW COLUMNS FROM users'), false, q), null);
  });

  test('CALL: the procedure\'s computed columns are masked, its plain columns go by origin', () => {
    const m = masker([col('name'), col('ssn'), computed('total')], cls('CALL report()'))!;
    assert.deepEqual(m.styles, [null, 'redact', 'null']);
  });
});

describe('masker: styles and both protocols', () => {
  const columns = [
    intCol('id', { flags: ColumnFlag.NOT_NULL | ColumnFlag.UNSIGNED | ColumnFlag.PRI_KEY }),
    col('ssn'), col('email'),
    intCol('salary', { flags: ColumnFlag.NOT_NULL | ColumnFlag.ZEROFILL }),
    col('secret', { flags: ColumnFlag.NOT_NULL }),
  ];
  const sql = 'SELECT id, ssn, email, salary, secret FROM users';

  test('masked columns are retyped to strings; others are left as they are', () => {
    const m = masker(columns, cls(sql))!;
    assert.equal(m.columnDefs[0], null);
    const salary = decodeColumnDefinition(m.columnDefs[3]!);
    assert.equal(salary.type, Type.VAR_STRING);
    assert.equal(salary.charset, DEFAULT_CHARSET, 'a number had the binary character set: now utf8mb4');
    assert.equal(salary.flags & (ColumnFlag.NOT_NULL | ColumnFlag.ZEROFILL | ColumnFlag.UNSIGNED | ColumnFlag.BINARY | ColumnFlag.BLOB), 0);
    assert.equal(salary.decimals, 0);
    assert.ok(salary.length >= 256);
    assert.equal(salary.name, 'salary');
    assert.equal(salary.orgTable, 'users', 'the origin stays: the audit still knows the column');
    const latin = masker([col('ssn', { charset: 8 })], null)!;
    assert.equal(decodeColumnDefinition(latin.columnDefs[0]!).charset, 8, 'a text column keeps its character set');
    const blob = masker([col('ssn', { type: Type.BLOB, charset: BINARY_CHARSET, flags: ColumnFlag.BLOB | ColumnFlag.BINARY })], null)!;
    const b = decodeColumnDefinition(blob.columnDefs[0]!);
    assert.deepEqual([b.type, b.charset, b.flags], [Type.VAR_STRING, DEFAULT_CHARSET, 0]);
  });

  test('text and binary rows come out identical', () => {
    const t = masker(columns, cls(sql), false)!;
    const b = masker(columns, cls(sql), true)!;
    const text = maskText(t, columns, ['7', '536-22-1234', 'jane.doe@example.com', '52000', 'hunter2']);
    const bin = maskBinary(b, columns, [enc.int32(7), enc.str('536-22-1234'), enc.str('jane.doe@example.com'), enc.int32(52000), enc.str('hunter2')]);
    assert.ok(text && bin);
    assert.deepEqual(text, bin);
    const [id, ssn, email, salary, secret] = text;
    assert.equal(id, '7');
    assert.equal(ssn, '****');
    assert.equal(email, 'j***@example.com');
    assert.match(salary as string, /^[A-Za-z0-9_-]{16}$/);
    assert.equal(secret, null);
  });

  test('hash: keyed, stable, equal for equal values in both protocols', () => {
    const cols = [intCol('salary')];
    const c = cls('SELECT salary FROM users');
    const t1 = maskText(masker(cols, c)!, cols, ['52000'])![0];
    const t2 = maskText(masker(cols, c)!, cols, ['52000'])![0];
    const b1 = maskBinary(masker(cols, c, true)!, cols, [enc.int32(52000)])![0];
    const other = maskText(masker(cols, c)!, cols, ['52001'])![0];
    assert.equal(t1, t2);
    assert.equal(t1, b1);
    assert.notEqual(t1, other);
    const otherKey = createPolicyEngine({ policies: [P], hashKey: Buffer.alloc(32, 7) }).masker(P, cols, c, 0, ctx, false)!;
    assert.notEqual(decodeRowCells('text', otherKey.maskRow(textRow(['52000']))!, defsAfter(otherKey, cols))[0], t1);
    assert.notEqual(HASH_KEY.length, 0);
  });

  test('partial: recognisable, not usable', () => {
    const partial = policy({ masking: [{ columns: ['*.*.*'], style: 'partial' }] });
    const cols = [col('a'), col('b'), col('c'), col('d'), col('e'), col('f'), intCol('g')];
    const m = masker(cols, null, false, partial)!;
    const out = maskText(m, cols, ['4111 1111 1111 1111', '536-22-1234', '+1 (415) 555-2671', 'Zoë Quinn', 'abc', 'ünïcødé@example.com', '123456789']);
    assert.deepEqual(out, ['**** **** **** 1111', '***-**-1234', '+* (***) ***-2671', 'Z****n', '****', 'ü***@example.com', '*****6789']);
  });

  test('redact and null on dates and numbers, binary protocol', () => {
    const p = policy({ masking: [{ columns: ['app.users.born'], style: 'redact' }, { columns: ['app.users.score'], style: 'null' }] });
    const cols = [col('born', { type: Type.DATETIME, charset: BINARY_CHARSET }), col('score', { type: Type.DOUBLE, charset: BINARY_CHARSET, flags: ColumnFlag.NOT_NULL })];
    const m = masker(cols, null, true, p)!;
    assert.deepEqual(maskBinary(m, cols, [enc.datetime(1990, 5, 17, 8, 30, 0), enc.double(9.5)]), ['****', null]);
    const pp = policy({ masking: [{ columns: ['app.users.born'], style: 'partial' }] });
    const mt = masker(cols.slice(0, 1), null, false, pp)!;
    const mb = masker(cols.slice(0, 1), null, true, pp)!;
    const t = maskText(mt, cols.slice(0, 1), ['1990-05-17 08:30:00']);
    assert.deepEqual(t, maskBinary(mb, cols.slice(0, 1), [enc.datetime(1990, 5, 17, 8, 30, 0)]));
    assert.deepEqual(t, ['****-**-** **:30:00']);
  });

  test('NULL stays NULL; a row with nothing to change is not rebuilt', () => {
    const m = masker(columns, cls(sql))!;
    assert.equal(m.maskRow(textRow(['1', null, null, null, null])), null);
    const mb = masker(columns, cls(sql), true)!;
    assert.equal(mb.maskRow(binaryRow(columns, [enc.int32(1), null, null, null, null])), null);
    assert.deepEqual(maskText(m, columns, ['1', null, 'a@b.co', null, null]), ['1', null, 'a***@b.co', null, null]);
  });

  test('lengths are re-encoded: a 3-byte length shrinks to one, a long cell keeps a 9-byte one', () => {
    const cols = [intCol('id'), col('ssn'), col('note')];
    const p = policy({ masking: [{ columns: ['app.users.ssn'], style: 'redact' }, { detect: ['email', 'credit_card'], style: 'partial' }] });
    const m = masker(cols, null, false, p)!;
    const long = 'x'.repeat(70_000);
    const note = `${'y'.repeat(300)} mail bob@example.com ${'z'.repeat(300)}`;
    const out = m.maskRow(textRow(['1', long, note]))!;
    const spans = scanTextRow(out, 3);
    assert.equal(out[spans[2]! - 1], 4, 'ssn: one-byte length');
    assert.equal(out[spans[4]! - 3], 0xfc, 'note: still a 3-byte length');
    assert.deepEqual(decodeRowCells('text', out, defsAfter(m, cols)), ['1', '****', note.replace('bob@example.com', 'b***@example.com')]);

    const huge = Buffer.alloc(17_000_000, 0x61);
    huge.write(' 4111111111111111 ', 8_000_000);
    const big = m.maskRow(textRow(['2', null, huge]))!;
    const s = scanTextRow(big, 3);
    assert.equal(big[s[4]! - 9], 0xfe, 'a 9-byte length');
    const cell = big.subarray(s[4]!, s[5]!);
    assert.equal(cell.length, huge.length);
    assert.equal(cell.toString('latin1', 8_000_000, 8_000_018), ' ************1111 ');
  });
});

describe('masker: rows for the relay, in place where lengths allow', () => {
  const cols = [intCol('id'), col('name'), col('ssn'), col('note'), intCol('card')];
  const p = policy({ masking: [{ columns: ['app.users.ssn'], style: 'partial' }, { detect: ['credit_card'], style: 'partial' }] });

  /** maskRowFramed on a copy: whether it masked in place (null), the bytes after, its packet, and maskRow's row. */
  function both(m: ResultMasker, row: Buffer): { done: boolean; after: Buffer; framed: Buffer | null; rebuilt: Buffer | null } {
    const after = Buffer.from(row);
    const framed = m.maskRowFramed!(after);
    return { done: framed === null, after, framed, rebuilt: m.maskRow(Buffer.from(row)) };
  }

  test('a row whose changes keep their length is masked in its own bytes, exactly as a rebuilt row', () => {
    for (const binary of [false, true]) {
      const m = masker(cols, null, binary, p)!;
      const row = binary
        ? binaryRow(cols, [enc.int32(1), enc.str('Ann'), enc.str('536-22-1234'), enc.str('call me'), enc.int32(12)])
        : textRow(['1', 'Ann', '536-22-1234', 'call me', '12']);
      const r = both(m, row);
      assert.equal(r.done, true);
      assert.deepEqual(r.after, r.rebuilt, binary ? 'binary' : 'text');
      assert.equal(decodeRowCells(binary ? 'binary' : 'text', r.after, defsAfter(m, cols))[2], '***-**-1234');
    }
  });

  test('nothing to change: done, and not a byte written', () => {
    const m = masker(cols, null, false, p)!;
    const row = textRow(['1', 'Ann', null, 'call me', '12']);
    const r = both(m, row);
    assert.equal(r.done, true);
    assert.equal(r.rebuilt, null);
    assert.deepEqual(r.after, row);
  });

  test('a change of length or a detected value: not done, and the row left as it came', () => {
    const cases: [string, Buffer][] = [
      ['a masked value that is not digit-shaped', textRow(['1', 'Ann', 'unknown', 'call me', '12'])],
      ['a masked value with too few digits', textRow(['1', 'Ann', '12-34', 'call me', '12'])],
      ['a card number in a detected text cell, after a maskable ssn', textRow(['1', 'Ann', '536-22-1234', 'card 4111 1111 1111 1111', '12'])],
      ['a card number in an integer cell', textRow(['1', 'Ann', '536-22-1234', 'call me', '4111111111111111'])],
    ];
    const m = masker(cols, null, false, p)!;
    for (const [what, row] of cases) {
      const r = both(m, row);
      assert.equal(r.done, false, what);
      assert.deepEqual(r.after, row, what);
      assert.ok(r.rebuilt, what);
      assert.deepEqual(r.framed!.subarray(4), r.rebuilt, `${what}: the packet holds the rebuilt row`);
      assert.equal(r.framed!.readUIntLE(0, 3), r.rebuilt.length, what);
    }
    const bin = masker(cols, null, true, p)!;
    const br = both(bin, binaryRow(cols, [enc.int32(1), enc.str('Ann'), enc.str('536-22-1234'), enc.str('card 4111 1111 1111 1111'), enc.int32(12)]));
    assert.equal(br.done, false);
    assert.deepEqual(br.framed!.subarray(4), br.rebuilt, 'binary: the packet holds the rebuilt row');
    assert.deepEqual(decodeRowCells('binary', br.rebuilt!, defsAfter(bin, cols)).slice(2, 4), ['***-**-1234', 'card **** **** **** 1111']);
    const redact = masker(cols, null, false, policy({ masking: [{ columns: ['app.users.ssn'], style: 'redact' }] }))!;
    assert.equal(both(redact, textRow(['1', 'Ann', '536-22-1234', 'x', '1'])).done, false, 'redact changes the length');
    const binNumber = masker([intCol('ssn')], null, true, policy({ masking: [{ columns: ['app.users.ssn'], style: 'partial' }] }))!;
    assert.equal(both(binNumber, binaryRow([intCol('ssn')], [enc.int32(123456789)])).done, false, 'a binary number becomes text');
  });
});

describe('masker: content detectors', () => {
  const p = policy({
    masking: [
      { detect: ['credit_card', 'phone', 'ssn'], style: 'partial' },
      { detect: ['email', 'api_key'], style: 'redact' },
      { detect: ['jwt'], style: 'hash' },
    ],
  });

  test('mask the matching part of a string cell', () => {
    const cols = [col('note'), col('other')];
    const m = masker(cols, null, false, p)!;
    assert.equal(m.examinesEveryRow, true);
    assert.deepEqual(m.detectorColumns, [true, true]);
    assert.deepEqual(m.styles, [null, null]);
    assert.deepEqual(maskText(m, cols, ['card 4111 1111 1111 1111, mail ann@x.org, key AKIAIOSFODNN7EXAMPLE', 'call 415-555-2671']),
      ['card **** **** **** 1111, mail ****, key ****', 'call ***-***-2671']);
    assert.equal(m.maskRow(textRow(['nothing here 12345', 'order 1700000000123'])), null, 'untouched rows stay untouched');
    const header = Buffer.from('{"alg":"HS256"}').toString('base64url');
    const jwt = `${header}.eyJzdWIiOiIxIn0.c2ln`;
    const [masked] = maskText(m, cols, [`Bearer ${jwt}`, null])!;
    assert.match(masked as string, /^Bearer [A-Za-z0-9_-]{16}$/);
  });

  test('null style empties the whole cell and drops NOT NULL from the definition', () => {
    const q = policy({ masking: [{ detect: ['ssn'], style: 'null' }] });
    const cols = [col('note', { flags: ColumnFlag.NOT_NULL }), intCol('n')];
    const m = masker(cols, null, false, q)!;
    assert.equal(decodeColumnDefinition(m.columnDefs[0]!).flags & ColumnFlag.NOT_NULL, 0);
    assert.equal(decodeColumnDefinition(m.columnDefs[0]!).type, Type.VAR_STRING, 'not retyped: it already is a string');
    assert.deepEqual(maskText(m, cols, ['ssn 536-22-1234', '536221234']), [null, null]);
  });

  test('integer cells keep their type: digits zeroed but the last four', () => {
    const cols = [bigintCol('card_no'), intCol('phone', { flags: ColumnFlag.UNSIGNED }), bigintCol('id', { flags: ColumnFlag.UNSIGNED }), col('n', { type: Type.NEWDECIMAL, charset: BINARY_CHARSET })];
    const mt = masker(cols, null, false, p)!;
    const mb = masker(cols, null, true, p)!;
    assert.deepEqual(mt.columnDefs, [null, null, null, null]);
    const t = maskText(mt, cols, ['4111111111111111', '4155552671', '1400000000000000000', '536221234']);
    const b = maskBinary(mb, cols, [enc.int64(4111111111111111n), enc.int32(4155552671), enc.int64(1400000000000000000n), enc.str('536221234')]);
    assert.deepEqual(t, ['1111', '2671', '1400000000000000000', '1234']);
    assert.deepEqual(b, t);
    // A card number beyond 2^53 (19 digits).
    const card19 = withLuhn('401288888888188188');
    const big = maskBinary(mb, cols, [enc.int64(BigInt(card19)), null, null, null]);
    assert.deepEqual(big, [card19.slice(-4).replace(/^0+/, ''), null, null, null]);
  });

  test('a bare number inside JSON stays a JSON number', () => {
    const cols = [col('doc', { type: Type.JSON, charset: BINARY_CHARSET })];
    const m = masker(cols, null, true, p)!;
    const [doc] = maskBinary(m, cols, [enc.str('{"cc": 4111111111111111, "tel": "+14155552671", "mail": "a@b.io"}')])!;
    assert.deepEqual(JSON.parse(doc as string), { cc: 1111, tel: '+*******2671', mail: '****' });
    // A JSON text in a plain text column (MariaDB's JSON is LONGTEXT) is treated the same way.
    const lt = [col('doc', { type: Type.BLOB, flags: ColumnFlag.BLOB })];
    const [doc2] = maskText(masker(lt, null, false, p)!, lt, ['[4111111111111111]'])!;
    assert.deepEqual(JSON.parse(doc2 as string), [1111]);
  });

  test('binary string columns are scanned as bytes', () => {
    const cols = [col('raw', { type: Type.BLOB, charset: BINARY_CHARSET, flags: ColumnFlag.BLOB | ColumnFlag.BINARY })];
    const m = masker(cols, null, false, p)!;
    const out = maskText(m, cols, [Buffer.concat([Buffer.from([0, 0xff, 0x20]), Buffer.from('ann@x.org'), Buffer.from([0x20, 0xfe])])]);
    assert.deepEqual(out, [{ base64: Buffer.concat([Buffer.from([0, 0xff, 0x20]), Buffer.from('****'), Buffer.from([0x20, 0xfe])]).toString('base64') }]);
  });

  test('columns masked by a rule are not scanned again', () => {
    const q = policy({ masking: [{ columns: ['app.users.note'], style: 'hash' }, { detect: ['email'], style: 'redact' }] });
    const cols = [col('note')];
    const m = masker(cols, null, false, q)!;
    assert.deepEqual(m.detectorColumns, [false]);
    assert.match(maskText(m, cols, ['ann@x.org'])![0] as string, /^[A-Za-z0-9_-]{16}$/);
  });
});

/** Appends the Luhn check digit. */
function withLuhn(body: string): string {
  let sum = 0;
  for (let i = 0; i < body.length; i++) {
    let d = Number(body[body.length - 1 - i]);
    if (i % 2 === 0) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return body + String((10 - (sum % 10)) % 10);
}
