import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { tokenize, stringValue } from './lexer.ts';
import type { ServerFlavor } from './types.ts';

const MARIA: ServerFlavor = { version: 101119, mariadb: true };
const MYSQL8: ServerFlavor = { version: 80036, mariadb: false };

function kinds(sql: string, f: ServerFlavor = MARIA): string[] {
  return tokenize(sql, f).tokens.map((t) => `${t.type}:${t.type === 'string' ? stringValue(sql, t, f) : t.value}`);
}

test('strings: escapes, doubled quotes, national and introduced strings', () => {
  assert.deepEqual(kinds(`'it''s' "a\\"b" N'x' _utf8mb4'y'`), ['string:it\'s', 'string:a"b', 'string:x', 'word:_UTF8MB4', 'string:y']);
  const sql = `'a\\nb\\%\\_\\0'`;
  assert.equal(stringValue(sql, tokenize(sql, MARIA).tokens[0]!), 'a\nb\\%\\_\0');
});

test('NO_BACKSLASH_ESCAPES and ANSI_QUOTES change how quotes read', () => {
  const sql = `'x\\' OR 1=1 -- '`;
  assert.equal(tokenize(sql, MARIA).tokens.length, 1);
  assert.equal(tokenize(sql, { ...MARIA, noBackslashEscapes: true }).tokens.length, 5);
  assert.deepEqual(kinds('"users"', { ...MARIA, ansiQuotes: true }), ['qident:users']);
});

test('hex, bit and number forms; digits then letters make a name', () => {
  assert.deepEqual(kinds("X'41' x'41' 0x41 B'01' 0b01 1e5 1.5e-3 .5 1. 12 0x1g 1ea 0b2"), [
    'hex:', 'hex:', 'hex:0x41', 'bit:', 'bit:0b01', 'number:1e5', 'number:1.5e-3', 'number:.5', 'number:1.',
    'number:12', 'word:0X1G', 'word:1EA', 'word:0B2',
  ]);
});

test('a name after a dot may start with digits', () => {
  assert.deepEqual(kinds('t.1e5 t . 5x'), ['word:T', 'op:.', 'word:1E5', 'word:T', 'op:.', 'word:5X']);
});

test('backticks with doubled backticks', () => {
  assert.deepEqual(kinds('`a``b` `x`'), ['qident:a`b', 'qident:x']);
});

test('comments: --, #, /* */ (first */ ends)', () => {
  assert.deepEqual(kinds('1 -- x\n2 # y\n3 /* /* */ 4'), ['number:1', 'number:2', 'number:3', 'number:4']);
  assert.deepEqual(kinds('1--1'), ['number:1', 'op:-', 'op:-', 'number:1']);
  assert.deepEqual(kinds('1 --\x01x'), ['number:1']);
  assert.deepEqual(kinds('1 --'), ['number:1']);
  assert.deepEqual(kinds('1 # a\r 2'), ['number:1']);
});

test('variables, placeholders and operators', () => {
  assert.deepEqual(kinds("@x @'Y z' @`q` @@global.max_connections @@x ? := <=> ->> != <> || && @"), [
    'var:x', 'var:y z', 'var:q', 'sysvar:global.max_connections', 'sysvar:x', 'param:?', 'op::=', 'op:<=>', 'op:->>',
    'op:!=', 'op:<>', 'op:||', 'op:&&', 'op:@',
  ]);
  assert.deepEqual(kinds('\\N'), ['null:NULL']);
});

test('executable comments are expanded by server version and flavor', () => {
  const words = (sql: string, f: ServerFlavor) => tokenize(sql, f).tokens.map((t) => t.value).join(' ');
  assert.equal(words('/*!50000 DROP */ x', MARIA), 'DROP X');
  assert.equal(words('/*!50700 DROP */ x', MARIA), 'X'); // MariaDB skips MySQL 5.7+ versions
  assert.equal(words('/*!50700 DROP */ x', MYSQL8), 'DROP X');
  assert.equal(words('/*!80037 DROP */ x', MYSQL8), 'X');
  assert.equal(words('/*!101119 DROP */ x', MARIA), 'DROP X');
  assert.equal(words('/*!101120 DROP */ x', MARIA), 'X');
  assert.equal(words('/*M!101119 DROP */ x', MARIA), 'DROP X');
  assert.equal(words('/*M!101119 DROP */ x', MYSQL8), 'X');
  assert.equal(words('/*M! DROP */ x', MARIA), 'DROP X');
  assert.equal(words('/*!1234 a */', MARIA), '1234 A');
  assert.equal(words('/*!800001 a */', MYSQL8), '1 A'); // MySQL: five digits, the sixth is code
  assert.equal(words('/*!800001 a */', MARIA), ''); // MariaDB: six digits, 80.0.1 is in the future
  assert.equal(words('/*!99999 /* n */ DROP */ x', MARIA), 'X'); // one nested comment allowed when skipped
  assert.equal(words('/*!50000 a /*!50000 b */ c */', MARIA), 'A B C * /'); // one flag, no depth
  assert.deepEqual(kinds("/*!50000 '*/' */ x"), ['string:*/', 'word:X']); // the string hides the */
});

test('the cut markers let the expanded text be rebuilt', () => {
  const lx = tokenize('SELECT 1 /*!50000 + 2 */', MARIA);
  assert.deepEqual(lx.cuts, [9, 17, 22, 24]);
});

test('unterminated constructs set error and never throw', () => {
  for (const s of ["'abc", '`abc', '/* abc', '/*! abc', '"abc', "x'41", '@`a', "@'a"]) {
    const r = tokenize(s, MARIA);
    assert.equal(r.error, true, s);
  }
  assert.equal(tokenize('SELECT 1', MARIA).error, false);
});

test('backslash inside a string is reported (sql_mode ambiguity)', () => {
  assert.equal(tokenize("SELECT 'a\\'b'", MARIA).backslashInString, true);
  assert.equal(tokenize("SELECT 'ab' -- \\", MARIA).backslashInString, false);
});

test('property: the lexer never throws and tokens are ordered within the text', () => {
  const alphabet = fc.constantFrom(...`ab1 '"\`\\/*!M-#;@.?:=<>()\n\t\f0xXeN_ `.split(''), '/*!50000', '*/', '/*M!', '--');
  fc.assert(fc.property(fc.array(alphabet, { maxLength: 60 }).map((a) => a.join('')), fc.boolean(), (s, maria) => {
    const r = tokenize(s, { version: 101119, mariadb: maria });
    let last = 0;
    for (const t of r.tokens) {
      assert.ok(t.start >= last && t.end > t.start && t.end <= s.length);
      last = t.end;
    }
  }), { numRuns: 2000 });
  fc.assert(fc.property(fc.string({ maxLength: 200 }), (s) => {
    tokenize(s, MARIA);
  }), { numRuns: 2000 });
});
