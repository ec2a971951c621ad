// Statement templates with literal slots, for the property tests of what is kept per shape of text (the classifier
// cache, decisions): texts that differ only in their literals.
import fc from 'fast-check';

export const literal = fc.oneof(
  fc.integer({ min: -5, max: 100_000 }).map(String),
  fc.constantFrom('0', '1', '2', '1.5', '.5', '1e3', '0x41', "X'4142'", "B'01'", '0b1', 'TRUE', 'NULL', "''", "N'x'", "_utf8mb4'x'", "'1'", "'a''b'", "'a\\'b'", '"dq"'),
  fc.string({ maxLength: 6 }).map((s) => `'${s.replace(/'/g, "''").replace(/\\/g, '\\\\')}'`),
);
const col = fc.constantFrom('a', 'b', 'ssn', 't.a', 'u.email', '`c 1`', '*', 't.*');
const item = fc.oneof(col, literal, fc.tuple(col, literal).map(([c, l]) => `${c} + ${l}`), fc.tuple(col, literal).map(([c, l]) => `CONCAT(${c}, ${l})`),
  fc.tuple(col, literal).map(([c, l]) => `${c} AS ${l}`), fc.tuple(col, literal).map(([c, l]) => `${c} ${l}`), fc.tuple(literal, col).map(([l, c]) => `${l} AS ${c.replace(/[.*`\s]/g, '') || 'x'}`));
const cond = fc.oneof(fc.tuple(col, literal).map(([c, l]) => `${c} = ${l}`), fc.tuple(literal, literal).map(([l, m]) => `${l} = ${m}`), literal,
  fc.tuple(col, fc.array(literal, { minLength: 1, maxLength: 3 })).map(([c, ls]) => `${c} IN (${ls.join(', ')})`), fc.tuple(col, literal, literal).map(([c, l, m]) => `${c} BETWEEN ${l} AND ${m}`));
const tail = fc.oneof(fc.constant(''), literal.map((l) => ` LIMIT ${l}`), literal.map((l) => ` ORDER BY ${l}`), fc.tuple(literal, literal).map(([l, m]) => ` LIMIT ${l}, ${m}`), literal.map((l) => ` INTO OUTFILE ${l}`));
export const template = fc.oneof(
  fc.tuple(fc.array(item, { minLength: 1, maxLength: 3 }), fc.option(cond), tail).map(([items, w, t]) => `SELECT ${items.join(', ')} FROM t JOIN users u ON u.id = t.id${w ? ` WHERE ${w}` : ''}${t}`),
  fc.tuple(fc.option(cond), tail).map(([w, t]) => `DELETE FROM t${w ? ` WHERE ${w}` : ''}${t.includes('OUTFILE') ? '' : t}`),
  fc.tuple(literal, fc.option(cond)).map(([l, w]) => `UPDATE t SET a = ${l}${w ? ` WHERE ${w}` : ''}`),
  fc.array(fc.tuple(literal, literal), { minLength: 1, maxLength: 3 }).map((rows) => `INSERT INTO t (a, b) VALUES ${rows.map(([x, y]) => `(${x}, ${y})`).join(', ')}`),
  fc.tuple(literal, item).map(([l, i]) => `INSERT INTO t (a) SELECT ${i} FROM u WHERE u.b = ${l}`),
  fc.tuple(literal, literal).map(([l, m]) => `PREPARE s FROM ${l}; SELECT ${m}`),
);

/** The text with its literal positions filled differently: digits to other digits, string contents to others. */
export function literalVariants(sql: string): string[] {
  return [sql, sql.replace(/\d/g, (d) => String((Number(d) + 3) % 10)), sql.replace(/'([^']*)'/g, "'z$1'"), sql.replace(/\b1\b/g, '0')];
}
