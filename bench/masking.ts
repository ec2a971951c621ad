// Masking cost per row on one core, for text (COM_QUERY) and binary (COM_STMT_EXECUTE) rows of an 8-column
// `users` result. Prints a table; not part of the test run. Usage: node bench/masking.ts [seconds-per-row]
import type { MaskingRuleConfig, PolicyConfig } from '../src/config/types.ts';
import type { ColumnDefinition } from '../src/protocol/columns.ts';
import { BINARY_CHARSET, ColumnFlag, DEFAULT_CHARSET, Type } from '../src/protocol/constants.ts';
import { rebuildBinaryRow, rebuildTextRow, scanBinaryRow, scanTextRow } from '../src/protocol/rows.ts';
import { createPolicyEngine } from '../src/policy/index.ts';
import type { PolicyContext, ResultMasker } from '../src/policy/index.ts';
import { classify } from '../src/sql/index.ts';

const seconds = Number(process.argv[2] ?? '1');

function col(name: string, o: Partial<ColumnDefinition> = {}): ColumnDefinition {
  return {
    catalog: 'def', schema: 'app', table: 'users', orgTable: 'users', name, orgName: name,
    charset: DEFAULT_CHARSET, length: 1020, type: Type.VAR_STRING, flags: 0, decimals: 0, ...o,
  };
}

const columns: ColumnDefinition[] = [
  col('id', { type: Type.LONG, charset: BINARY_CHARSET, flags: ColumnFlag.NOT_NULL | ColumnFlag.PRI_KEY }),
  col('name'),
  col('email'),
  col('ssn'),
  col('bio'),
  col('city'),
  col('created', { type: Type.DATETIME, charset: BINARY_CHARSET }),
  col('balance', { type: Type.NEWDECIMAL, charset: BINARY_CHARSET, decimals: 2 }),
];
const sql = 'SELECT id, name, email, ssn, bio, city, created, balance FROM users';

let seed = 7;
function rnd(n: number): number {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff;
  return seed % n;
}
const NAMES = ['Ann Lee', 'Bo Chen', 'Carla Diaz', 'Dmitri Orlov', 'Eve Martin', 'Farid Haddad'];
const CITIES = ['Lisbon', 'Osaka', 'Toronto', 'Nairobi', 'Lyon', 'Austin'];
const BIOS = [
  'Enjoys hiking, photography and long walks along the river after work.',
  'Backend engineer; writes about databases, queues and observability.',
  'Prefers tea over coffee. Has two cats and a very old bicycle.',
];

/**
 * One row's cell values as text. `sensitive`: the email and ssn columns hold an email address and an SSN (what
 * detectors find); otherwise they hold look-alikes that no detector takes. Every `dirtyEvery`-th row also carries
 * a card number and a phone number in its bio.
 */
function values(i: number, sensitive: boolean, dirtyEvery: number): string[] {
  const dirty = dirtyEvery > 0 && i % dirtyEvery === 0;
  const bio = BIOS[rnd(BIOS.length)]! + (dirty ? ' Card 4111 1111 1111 1111, call +1 415 555 2671.' : '');
  return [
    String(1000 + i), NAMES[rnd(NAMES.length)]!,
    sensitive ? `user${i}@example.com` : `user${i} at example`,
    sensitive ? `${100 + rnd(600)}-${10 + rnd(80)}-${1000 + rnd(8000)}` : `ref A-${1000 + rnd(8000)}`,
    bio, CITIES[rnd(CITIES.length)]!, `2024-0${1 + rnd(9)}-1${rnd(9)} 1${rnd(9)}:${10 + rnd(49)}:${10 + rnd(49)}`, `${rnd(100000)}.${10 + rnd(89)}`,
  ];
}

function textRow(v: string[]): Buffer {
  return rebuildTextRow(Buffer.alloc(v.length, 0xfb), new Int32Array(v.length * 2).fill(-1), v.map((s) => Buffer.from(s)));
}

function binaryRow(v: string[]): Buffer {
  const n = v.length;
  const empty = Buffer.alloc(1 + ((n + 9) >> 3), 0xff);
  empty[0] = 0;
  const id = Buffer.alloc(4);
  id.writeUInt32LE(Number(v[0]));
  const [date, time] = v[6]!.split(' ') as [string, string];
  const [y, mo, d] = date.split('-').map(Number) as [number, number, number];
  const [h, mi, s] = time.split(':').map(Number) as [number, number, number];
  const dt = Buffer.from([7, y & 0xff, y >> 8, mo, d, h, mi, s]);
  const cells = [id, ...v.slice(1, 6).map((x) => Buffer.from(x)), dt, Buffer.from(v[7]!)];
  return rebuildBinaryRow(empty, columns, new Int32Array(n * 2).fill(-1), cells);
}

const ctx: PolicyContext = { identity: { subject: 'bench', groups: ['agents'], via: 'service_account' }, target: 'app', db: 'app' };

function policy(masking: MaskingRuleConfig[]): PolicyConfig {
  return {
    name: 'bench', groups: ['agents'], targets: ['*'], guardrails: 'none', rules: [], masking,
    maskedColumnUse: 'deny', approvalMode: 'hold', retryValidity: 900_000,
  };
}

const ALL_DETECTORS = ['credit_card', 'email', 'ssn', 'iban', 'phone', 'api_key', 'jwt'] as const;
const DETECT: MaskingRuleConfig[] = [{ detect: [...ALL_DETECTORS], style: 'partial' }];
// name, rules, sensitive values in the email/ssn columns, one dirty bio every N rows (0: none)
const scenarios: [string, MaskingRuleConfig[], boolean, number][] = [
  ['no masker (no rule applies)', [{ columns: ['app.orders.card'], style: 'redact' }], true, 0],
  ['one masked column (redact)', [{ columns: ['app.users.ssn'], style: 'redact' }], true, 0],
  ['one masked column (partial)', [{ columns: ['app.users.email'], style: 'partial' }], true, 0],
  ['one masked column (partial, digit-shaped: in place)', [{ columns: ['app.users.ssn'], style: 'partial' }], true, 0],
  ['one masked column (hash)', [{ columns: ['app.users.ssn'], style: 'hash' }], true, 0],
  ['the card detector alone on 5 string columns, nothing found', [{ detect: ['credit_card'], style: 'partial' }], false, 0],
  ['7 detectors on 5 string columns, nothing found', DETECT, false, 0],
  ['7 detectors, nothing found but 1 row in 10', DETECT, false, 10],
  ['7 detectors, an email and an SSN in every row', DETECT, true, 0],
];

/** ns per call: the best of three windows of `seconds / 3` (the machine is shared; the minimum is the cost). */
function measure<T>(fn: (row: T) => unknown, rows: T[]): number {
  for (let i = 0; i < 20_000; i++) fn(rows[i % rows.length]!);
  let best = Infinity;
  for (let w = 0; w < 3; w++) {
    let n = 0;
    const start = process.hrtime.bigint();
    const budget = BigInt(Math.round((seconds / 3) * 1e9));
    for (;;) {
      for (let i = 0; i < 1000; i++) fn(rows[(n + i) % rows.length]!);
      n += 1000;
      if (process.hrtime.bigint() - start > budget) break;
    }
    best = Math.min(best, Number(process.hrtime.bigint() - start) / n);
  }
  return best;
}

const cls = classify(sql, { version: 101119, mariadb: true });
const out: string[][] = [];
for (const [name, masking, sensitive, dirtyEvery] of scenarios) {
  const engine = createPolicyEngine({ policies: [], hashKey: Buffer.alloc(32, 1) });
  const p = policy(masking);
  const vals = Array.from({ length: 1000 }, (_, i) => values(i, sensitive, dirtyEvery));
  const cells: string[] = [name];
  for (const binary of [false, true]) {
    const rows = vals.map(binary ? binaryRow : textRow);
    const m: ResultMasker | null = engine.masker(p, columns, cls, 0, ctx, binary);
    // As the relay does it: in the row's own bytes when no cell changes length, else a rebuilt row. Masking in
    // place changes the row, so every call works on a fresh copy (the copy's cost is the reference line below).
    const copies = rows.map((r) => Buffer.allocUnsafe(r.length));
    const gateway = (k: number): unknown => {
      const row = copies[k]!;
      rows[k]!.copy(row);
      return m!.maskRowFramed ? m!.maskRowFramed(row) : m!.maskRow(row);
    };
    // With no masker the gateway forwards each row as it came: the only cost is this check.
    const ns = measure(m === null ? (k: number) => k : gateway, rows.map((_r, k) => k));
    cells.push(`${ns.toFixed(0)} ns${m === null ? ' (null)' : ''}`);
  }
  out.push(cells);
}

// For scale: locating the cells of a row, which every masker does once per row.
const plain = Array.from({ length: 1000 }, (_, i) => values(i, true, 0));
const spans = new Int32Array(columns.length * 2);
const textRows = plain.map(textRow);
const binRows = plain.map(binaryRow);
out.push(['(reference) scan the row only', `${measure((r) => scanTextRow(r, columns.length, spans), textRows).toFixed(0)} ns`,
  `${measure((r) => scanBinaryRow(r, columns, spans), binRows).toFixed(0)} ns`]);
const copies = textRows.map((r) => Buffer.allocUnsafe(r.length));
const binCopies = binRows.map((r) => Buffer.allocUnsafe(r.length));
out.push(['(reference) copy the row only (in every figure above)', `${measure((k: number) => textRows[k]!.copy(copies[k]!), textRows.map((_r, k) => k)).toFixed(0)} ns`,
  `${measure((k: number) => binRows[k]!.copy(binCopies[k]!), binRows.map((_r, k) => k)).toFixed(0)} ns`]);
const setup = createPolicyEngine({ policies: [], hashKey: Buffer.alloc(32, 1) });
const sp = policy([{ columns: ['app.users.ssn'], style: 'redact' }, { detect: [...ALL_DETECTORS], style: 'partial' }]);
const sets = [columns];
out.push(['(reference) masker() per result set', `${measure(() => setup.masker(sp, columns, cls, 0, ctx, false), sets).toFixed(0)} ns`,
  `${measure(() => setup.masker(sp, columns, cls, 0, ctx, true), sets).toFixed(0)} ns`]);

const head = ['scenario (8-column users row)', 'text ns/row', 'binary ns/row'];
const widths = head.map((h, i) => Math.max(h.length, ...out.map((r) => (r[i] ?? '').length)));
const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
console.log(line(head));
console.log(widths.map((w) => '-'.repeat(w)).join('  '));
for (const r of out) console.log(line(r));
