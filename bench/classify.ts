// Classifier throughput on one core: uncached, through the cache with new literals every time (texts never seen
// before, of a shape the cache knows), and cached (the same texts again), for a sysbench-like mix plus a few
// analytic queries.
// Prints a table; not part of the test run. Usage: node bench/classify.ts [seconds-per-row]
import { classify, ClassifierCache } from '../src/sql/index.ts';
import type { ServerFlavor } from '../src/sql/index.ts';

const flavor: ServerFlavor = { version: 101119, mariadb: true };
const seconds = Number(process.argv[2] ?? '1');

let seed = 42;
function rnd(n: number): number {
  seed = (Math.imul(seed, 1103515245) + 12345) & 0x7fffffff; // 32-bit arithmetic: a double product loses bits and cycles early
  return seed % n;
}

const pad = (n: number) => 'x'.repeat(n);
// sysbench oltp_read_write statement shapes, with varying literals
const makers: Record<string, () => string> = {
  'point select': () => `SELECT c FROM sbtest${1 + rnd(8)} WHERE id=${rnd(100000)}`,
  'range select': () => `SELECT c FROM sbtest1 WHERE id BETWEEN ${rnd(1000)} AND ${1000 + rnd(1000)} ORDER BY c`,
  'sum range': () => `SELECT SUM(k) FROM sbtest1 WHERE id BETWEEN ${rnd(1000)} AND ${1000 + rnd(1000)}`,
  'distinct range': () => `SELECT DISTINCT c FROM sbtest1 WHERE id BETWEEN ${rnd(1000)} AND ${1000 + rnd(1000)} ORDER BY c`,
  'update index': () => `UPDATE sbtest1 SET k=k+1 WHERE id=${rnd(100000)}`,
  'update non-index': () => `UPDATE sbtest1 SET c='${pad(20)}${rnd(1000)}' WHERE id=${rnd(100000)}`,
  'delete': () => `DELETE FROM sbtest1 WHERE id=${rnd(100000)}`,
  'insert': () => `INSERT INTO sbtest1 (id, k, c, pad) VALUES (${rnd(100000)}, ${rnd(1000)}, '${pad(60)}', '${pad(40)}')`,
  'analytic (long)': () => `WITH recent AS (SELECT o.user_id, SUM(o.total) AS spent, COUNT(*) AS n FROM orders o
      JOIN payments p ON p.order_id = o.id WHERE o.created_at > '2024-0${1 + rnd(8)}-01' GROUP BY o.user_id HAVING SUM(o.total) > ${rnd(500)})
    SELECT u.id, u.name, LOWER(u.email) AS email, r.spent, r.n,
      RANK() OVER (PARTITION BY u.status ORDER BY r.spent DESC) AS rk,
      CASE WHEN r.spent > 1000 THEN 'gold' WHEN r.spent > 100 THEN 'silver' ELSE 'none' END AS tier,
      (SELECT MAX(p2.amount) FROM payments p2 JOIN orders o2 ON o2.id = p2.order_id WHERE o2.user_id = u.id) AS top
    FROM users u JOIN recent r ON r.user_id = u.id LEFT JOIN products pr ON pr.id = u.id
    WHERE u.status IN ('active', 'trial', 'paused') AND u.created_at BETWEEN '2023-01-01' AND '2024-12-31'
    ORDER BY rk, u.id LIMIT ${10 + rnd(90)}`,
};

function measure(fn: (sql: string) => void, texts: string[]): number {
  // warm up, then run for `seconds`
  for (let i = 0; i < Math.min(texts.length, 2000); i++) fn(texts[i]!);
  let n = 0;
  const start = process.hrtime.bigint();
  const budget = BigInt(Math.round(seconds * 1e9));
  for (;;) {
    for (let i = 0; i < 500; i++) fn(texts[(n + i) % texts.length]!);
    n += 500;
    if (process.hrtime.bigint() - start > budget) break;
  }
  return n / (Number(process.hrtime.bigint() - start) / 1e9);
}

const rows: [string, number, number, number, number][] = [];
for (const [name, make] of Object.entries(makers)) {
  const unique = Array.from({ length: 5000 }, make);
  const repeated = Array.from({ length: 200 }, make); // a working set that fits the cache
  const uncached = measure((s) => classify(s, flavor), unique);
  const cache = new ClassifierCache({ maxEntries: 10_000 });
  const cached = measure((s) => cache.classify(s, flavor), repeated);
  // 50,000 texts cycled through a cache of 10,000: each is gone by the time it comes again.
  const fresh = Array.from({ length: 50_000 }, make);
  const byShape = new ClassifierCache({ maxEntries: 10_000 });
  const shaped = measure((s) => byShape.classify(s, flavor), fresh);
  rows.push([name, Math.round(unique.reduce((a, s) => a + s.length, 0) / unique.length), uncached, shaped, cached]);
}
// the mix a sysbench oltp_read_write transaction sends (10 point selects, 4 ranges, 2 updates, 1 delete, 1 insert)
const mixMakers = [...Array(10).fill(makers['point select']), makers['range select'], makers['sum range'],
  makers['distinct range'], makers['range select'], makers['update index'], makers['update non-index'], makers['delete'],
  makers['insert']] as (() => string)[];
const mix = Array.from({ length: 5000 }, (_, i) => mixMakers[i % mixMakers.length]!());
const mixRepeated = mix.slice(0, 400);
const cacheMix = new ClassifierCache();
const freshMix = Array.from({ length: 50_000 }, (_, i) => mixMakers[i % mixMakers.length]!());
const shapeMix = new ClassifierCache();
rows.push(['sysbench mix', Math.round(mix.reduce((a, s) => a + s.length, 0) / mix.length),
  measure((s) => classify(s, flavor), mix), measure((s) => shapeMix.classify(s, flavor), freshMix), measure((s) => cacheMix.classify(s, flavor), mixRepeated)]);

const fmt = (n: number) => Math.round(n).toLocaleString('en-US').padStart(12);
console.log(`${'statement'.padEnd(18)} ${'avg chars'.padStart(9)} ${'uncached/s'.padStart(12)} ${'new literals/s'.padStart(14)} ${'cached/s'.padStart(12)}`);
for (const [name, len, u, f, c] of rows) console.log(`${name.padEnd(18)} ${String(len).padStart(9)} ${fmt(u)} ${fmt(f).padStart(14)} ${fmt(c)}`);
