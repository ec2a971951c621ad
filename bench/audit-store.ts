// Fills each audit store with a million events and measures what the gateway and its users wait for:
//
//   node bench/audit-store.ts [--events N] [--only sqlite|postgres]
//
// PostgreSQL: AGENTGATE_BENCH_PG=postgres://… (an empty database), or a throwaway cluster is started (with fsync
// turned back on, so commits cost what they cost in production).
//
// Phases, per store:
//   big      one session of 10,000 events (appended 100 at a time; not timed): what "open" reads back.
//   fill     200 clients at once, each a session of ~100 events appended one after the other (each append awaited,
//            as the gateway awaits before releasing a result). Throughput, and the latency of each append under
//            that load.
//   light    on the full store, 8 clients appending back to back: the latency an append adds when the gateway is
//            not saturated.
//   list     listSessions({limit: 50}), newest first, and with a target+subject filter and a `before` cursor.
//   open     getSession() of the 10,000-event session, rows included, and presenting it as the API does.
//   verify   the whole chain.
//   search   a value seen in a handful of events (every row byte is scanned), and a column.
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { openAuditStore } from '../src/audit/index.ts';
import { presentSession } from '../src/audit/present.ts';
import { binaryRow, column, sessionStart, T, textRow } from '../test/helpers/audit.ts';
import type { AuditStore, ColumnInfo, NewEvent } from '../src/audit/types.ts';
import { startPostgres } from '../test/helpers/postgres.ts';

const args = process.argv.slice(2);
const opt = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const EVENTS = Number(opt('--events') ?? 1_000_000);
const ONLY = opt('--only');
const CLIENTS = 200;
const PER_SESSION = 100;
const BIG = 10_000;

const COLS: ColumnInfo[] = [
  column('id', T.LONG), column('email', T.VAR_STRING), column('name', T.VAR_STRING),
  column('city', T.VAR_STRING, { table: 'addresses' }), column('balance', T.VAR_STRING, { table: 'accounts' }),
];
const BCOLS: ColumnInfo[] = [column('id', T.LONGLONG), column('amount', T.DOUBLE), column('ref', T.VAR_STRING, { table: 'payments' })];

/** A realistic mix: most reads return a few rows, some return more, writes return none. Deterministic. */
function makeEvent(sessionId: string, seq: number, n: number): NewEvent {
  const base = { sessionId, seq, at: new Date().toISOString(), durationMs: 0.8 };
  const k = n % 20;
  const row = (i: number) => textRow([String(n * 7 + i), `user${(n + i) % 500_000}@example.com`, `Person ${n + i}`, 'Lyon', `${(n % 9973) * 3}.50`]);
  if (k < 12) {
    return { ...base, type: 'query', sql: `SELECT u.id, u.email, u.name, a.city, c.balance FROM app.users u JOIN app.addresses a ON a.user_id = u.id JOIN app.accounts c ON c.user_id = u.id WHERE u.id = ${n}`,
      kinds: ['select'], fingerprint: 'select u . id , … where u . id = ?', decision: { action: 'allow', policy: 'agents', rule: null },
      result: { columns: COLS, rows: { format: 'text', payloads: [row(0), row(1), row(2)] }, rowCount: 3 } };
  }
  if (k < 15) {
    return { ...base, type: 'query', sql: 'SELECT u.id, u.email, u.name, a.city, c.balance FROM app.users u JOIN … ORDER BY u.id LIMIT 20',
      kinds: ['select'], decision: { action: 'allow', policy: 'agents', rule: null },
      result: { columns: COLS, rows: { format: 'text', payloads: Array.from({ length: 20 }, (_, i) => row(i)) }, rowCount: 20 } };
  }
  if (k < 18) {
    return { ...base, type: 'query', sql: `UPDATE app.orders SET status = 'shipped' WHERE id = ${n}`, kinds: ['update'],
      decision: { action: 'allow', policy: 'agents', rule: null }, result: { affectedRows: 1 } };
  }
  if (k < 19) {
    return { ...base, type: 'execute', sql: 'SELECT id, amount, ref FROM app.payments WHERE account = ?', stmtId: 1,
      params: [{ type: 'LONGLONG', value: String(n) }], kinds: ['select'], decision: { action: 'allow', policy: 'agents', rule: null },
      result: { columns: BCOLS, rows: { format: 'binary', payloads: Array.from({ length: 5 }, (_, i) => binaryRow(BCOLS, [BigInt(n * 5 + i), (n % 1000) + 0.25, `PAY-${n}-${i}`])) }, rowCount: 5 } };
  }
  return { ...base, type: 'ping' };
}

interface Row {
  store: string;
  metrics: Record<string, string>;
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};
const us = (ms: number) => `${Math.round(ms * 1000)} µs`;
const ms = (v: number) => (v >= 1000 ? `${(v / 1000).toFixed(2)} s` : `${v.toFixed(1)} ms`);

async function time<T>(f: () => Promise<T>): Promise<[number, T]> {
  const t = performance.now();
  const r = await f();
  return [performance.now() - t, r];
}

async function bench(name: string, open: () => Promise<AuditStore>, size: () => string): Promise<Row> {
  const m: Record<string, string> = {};
  const store = await open();
  const log = (s: string) => process.stderr.write(`[${name}] ${s}\n`);

  // ---- fill ----
  const lat: number[] = [];
  let made = 0;
  let sessions = 0;
  const sessionsTotal = Math.ceil((EVENTS - BIG) / PER_SESSION);
  const started = performance.now();
  let lastLog = started;
  const cpu0 = process.cpuUsage();
  const append = async (e: NewEvent) => {
    const t = performance.now();
    await store.append(e);
    lat.push(performance.now() - t);
  };
  const client = async () => {
    while (sessions < sessionsTotal) {
      const id = `s-${String(++sessions).padStart(7, '0')}`;
      const subject = `agent-${sessions % 50}`;
      await store.openSession(sessionStart(id, { target: sessions % 3 ? 'app' : 'billing', identity: { subject, groups: ['agents'], via: 'service_account' }, instanceId: 'bench' }));
      for (let seq = 1; seq <= PER_SESSION; seq++) await append(makeEvent(id, seq, made++));
      await store.closeSession(id, new Date().toISOString(), 'quit');
      if (performance.now() - lastLog > 10_000) {
        lastLog = performance.now();
        log(`${made} events, ${Math.round(made / ((lastLog - started) / 1000))}/s`);
      }
    }
  };
  await store.openSession(sessionStart('big', { instanceId: 'bench' }));
  for (let seq = 1; seq <= BIG; seq += 100) {
    await Promise.all(Array.from({ length: 100 }, (_, i) => store.append(makeEvent('big', seq + i, made++))));
  }
  await store.closeSession('big', new Date().toISOString(), 'quit');
  const bigMade = made;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: CLIENTS }, client));
  const fillMs = performance.now() - t0;
  m['fill: events'] = String(made);
  m['fill: events/s (200 clients)'] = String(Math.round((made - bigMade) / (fillMs / 1000)));
  const cpu = process.cpuUsage(cpu0);
  m['fill: CPU per event (all threads)'] = us((cpu.user + cpu.system) / 1000 / made);
  m['fill: append p50 / p99'] = `${us(pct(lat, 50))} / ${us(pct(lat, 99))}`;
  log(`filled in ${ms(fillMs)}`);

  // ---- light load ----
  const light: number[] = [];
  await Promise.all(Array.from({ length: 8 }, async (_, c) => {
    const id = `light-${c}`;
    await store.openSession(sessionStart(id, { instanceId: 'bench' }));
    for (let seq = 1; seq <= 1000; seq++) {
      const t = performance.now();
      await store.append(makeEvent(id, seq, seq));
      light.push(performance.now() - t);
    }
    await store.closeSession(id, new Date().toISOString(), 'quit');
  }));
  m['light: append p50 / p99 (8 clients)'] = `${us(pct(light, 50))} / ${us(pct(light, 99))}`;
  const single: number[] = [];
  await store.openSession(sessionStart('single', { instanceId: 'bench' }));
  for (let seq = 1; seq <= 2000; seq++) {
    const t = performance.now();
    await store.append(makeEvent('single', seq, seq));
    single.push(performance.now() - t);
  }
  await store.closeSession('single', new Date().toISOString(), 'quit');
  m['light: append p50 / p99 (1 client)'] = `${us(pct(single, 50))} / ${us(pct(single, 99))}`;
  await store.close();

  // ---- reads, on a fresh store object (cold caches of our own, warm OS cache) ----
  const r = await open();
  const [l1, page] = await time(() => r.listSessions({ limit: 50 }));
  const [l2] = await time(() => r.listSessions({ limit: 50, before: page[49]!.id }));
  const [l3] = await time(() => r.listSessions({ target: 'billing', subject: 'agent-3', limit: 50 }));
  m['list 50 / next page / filtered'] = `${ms(l1)} / ${ms(l2)} / ${ms(l3)}`;
  const [o1, s] = await time(() => r.getSession('big'));
  const [o2] = await time(async () => presentSession(s!));
  m['open 10k-event session / + present'] = `${ms(o1)} / ${ms(o2)}`;
  const [v, res] = await time(() => r.verify());
  m['verify'] = `${ms(v)} (${res.ok ? 'ok' : `FAILED: ${res.problem}`}, ${res.records} records, ${Math.round(res.records! / (v / 1000))}/s)`;
  // 'Lyon' is in most text rows (the first hits come at once); 'PAY-18-3' in a few binary rows; the last in none, so
  // the whole of the row bytes is scanned for the last two.
  const [sv1, h1] = await time(() => r.searchValue('Lyon', 10));
  const [sv2, h2] = await time(() => r.searchValue('PAY-18-3', 100));
  const [sv3, h3] = await time(() => r.searchValue('nobody@nowhere.example', 100));
  m['search value: common / rare / absent'] = `${ms(sv1)} (${h1.length}) / ${ms(sv2)} (${h2.length}) / ${ms(sv3)} (${h3.length})`;
  const [sc, colHits] = await time(() => r.searchColumn('app.payments.ref', 100));
  const [sc2, colHits2] = await time(() => r.searchColumn('*.*.nope', 100));
  m['search column: 100 hits / none'] = `${ms(sc)} (${colHits.length}) / ${ms(sc2)} (${colHits2.length})`;
  m['size on disk'] = size();
  await r.close();
  return { store: name, metrics: m };
}

const rows: Row[] = [];
const tmp = mkdtempSync(join(tmpdir(), 'agentgate-bench-'));
// Interrupted (Ctrl-C, kill): still remove the gigabyte of data and stop the PostgreSQL this run started.
let stopPostgres = () => {};
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    stopPostgres();
    rmSync(tmp, { recursive: true, force: true });
    process.exit(130);
  });
}
try {
  if (!ONLY || ONLY === 'sqlite') {
    const file = join(tmp, 'audit.db');
    rows.push(await bench('sqlite', async () => {
      const s = openAuditStore(`sqlite:${file}`, { instanceId: 'bench' });
      await s.init();
      return s;
    }, () => {
      const mb = (p: string) => { try { return statSync(p).size; } catch { return 0; } };
      return `${((mb(file) + mb(file + '-wal')) / 1e6).toFixed(0)} MB`;
    }));
  }
  if (!ONLY || ONLY === 'postgres') {
    let url = process.env.AGENTGATE_BENCH_PG;
    let stop = () => {};
    if (!url) {
      const srv = await startPostgres();
      stop = () => srv.stop();
      stopPostgres = stop;
      url = srv.url;
      // The throwaway cluster starts with fsync=off (fast tests); a benchmark wants real commits.
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      await c.query('ALTER SYSTEM SET fsync = on');
      await c.query('SELECT pg_reload_conf()');
      await c.end();
    }
    try {
      let size = '';
      rows.push(await bench('postgres', async () => {
        const s = openAuditStore(url!, { instanceId: 'bench' });
        await s.init();
        return s;
      }, () => size));
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      size = (await c.query('SELECT pg_size_pretty(pg_database_size(current_database())) AS s')).rows[0].s;
      rows[rows.length - 1]!.metrics['size on disk'] = size;
      await c.end();
    } finally {
      stop();
    }
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}

const keys = [...new Set(rows.flatMap((r) => Object.keys(r.metrics)))];
const w0 = Math.max(...keys.map((k) => k.length));
const widths = rows.map((r) => Math.max(r.store.length, ...keys.map((k) => (r.metrics[k] ?? '').length)));
const line = (cells: string[]) => '| ' + cells.map((c, i) => c.padEnd(i === 0 ? w0 : widths[i - 1]!)).join(' | ') + ' |';
console.log(line(['', ...rows.map((r) => r.store)]));
console.log('|' + [w0, ...widths].map((w) => '-'.repeat(w + 2)).join('|') + '|');
for (const k of keys) console.log(line([k, ...rows.map((r) => r.metrics[k] ?? '')]));
