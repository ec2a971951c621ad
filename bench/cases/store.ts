// Case 5: recording.
// - The embedded store alone (openAuditStore, SQLite in a temp folder, the gateway's defaults: WAL, group commit,
//   synchronous=NORMAL): events/s sustained by many concurrent appenders that each await their append (as the gateway
//   does before it releases a result), and the latency of one append with a single appender.
// - Through the gateway: there is no mode without recording, so the single-row SELECT is timed on the relay, on
//   agentgate as shipped, and on the same gateway whose store accepts statement events without writing them
//   (bench/gateway-nostore.ts), in turn. agentgate minus no-store is what recording adds to a statement; no-store
//   minus relay is everything else the gateway does.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { openAuditStore } from '../../src/audit/index.ts';
import { binaryRow, column, sessionStart, T, textRow } from '../../test/helpers/audit.ts';
import type { AuditStore, ColumnInfo, NewEvent } from '../../src/audit/types.ts';
import type { CaseContext } from '../lib/context.ts';
import { row, type Row } from '../lib/report.ts';
import { percentile, sleep } from '../lib/stats.ts';
import { interleaved, PointSelect } from './latency.ts';

const SB = [column('c', T.VAR_STRING, { db: 'sbtest', table: 'sbtest1' })];
const PEOPLE: ColumnInfo[] = [
  column('id', T.LONG, { db: 'bench', table: 'people' }), column('name', T.VAR_STRING, { db: 'bench', table: 'people' }),
  column('email', T.VAR_STRING, { db: 'bench', table: 'people' }), column('ssn', T.VAR_STRING, { db: 'bench', table: 'people', masked: 'partial' }),
];
const C_VALUE = '83868641912-28773972837-60736120486-75162659906-27563526494-20381887404-41576422241-93426793964-56405065102-33518432330';

/** A statement event as the gateway records it: mostly point reads with a row or a few, some writes. */
function makeEvent(sessionId: string, n: number): NewEvent {
  const base = { sessionId, seq: 0, at: new Date().toISOString(), durationMs: 0.31 };
  const allow = { action: 'allow' as const, policy: 'agents', rule: null };
  const k = n % 10;
  if (k < 6) {
    return { ...base, type: 'execute', stmtId: 1, sql: 'SELECT c FROM sbtest1 WHERE id=?', params: [{ type: 'LONG', value: n % 100000 }],
      kinds: ['select'], fingerprint: 'select c from sbtest1 where id = ?', decision: allow,
      result: { columns: SB, rows: { format: 'binary', payloads: [binaryRow(SB, [C_VALUE])] }, rowCount: 1 } };
  }
  if (k < 8) {
    const rows = Array.from({ length: 5 }, (_, i) => textRow([String(n + i), `Person ${n + i}`, `user${n + i}@example.com`, `***-**-${String((n + i) % 10000).padStart(4, '0')}`]));
    return { ...base, type: 'query', sql: `SELECT id, name, email, ssn FROM people WHERE id BETWEEN ${n} AND ${n + 4}`, kinds: ['select'],
      fingerprint: 'select id , name , email , ssn from people where id between ? and ?', decision: allow,
      result: { columns: PEOPLE, rows: { format: 'text', payloads: rows }, rowCount: 5 } };
  }
  return { ...base, type: 'execute', stmtId: 3, sql: 'UPDATE sbtest1 SET k=k+1 WHERE id=?', params: [{ type: 'LONG', value: n % 100000 }],
    kinds: ['update'], fingerprint: 'update sbtest1 set k = k + ? where id = ?', decision: allow, result: { affectedRows: 1 } };
}

async function appendLoop(store: AuditStore, sessionId: string, until: () => boolean, lat: number[] | null, start = 0): Promise<number> {
  let seq = 0;
  let n = start;
  while (!until()) {
    const e = makeEvent(sessionId, n++);
    e.seq = ++seq;
    const t0 = performance.now();
    await store.append(e);
    lat?.push((performance.now() - t0) * 1000);
  }
  return seq;
}

async function storeAlone(c: CaseContext): Promise<Row[]> {
  const dir = mkdtempSync(join(tmpdir(), 'agentgate-bench-store-'));
  const store = openAuditStore(`sqlite:${join(dir, 'audit.db')}`, { instanceId: 'bench', captureRows: 1000 });
  await store.init();
  try {
    const appenders = 64;
    const seconds = c.quick ? 3 : 10;
    const sessions = Array.from({ length: appenders }, () => randomUUID());
    for (const s of sessions) await store.openSession(sessionStart(s, { instanceId: 'bench' }));
    // Warm-up (JIT, the writer thread, SQLite's cache), then the timed stretch.
    let stop = performance.now() + 1000;
    await Promise.all(sessions.map((s, i) => appendLoop(store, s, () => performance.now() > stop, null, i * 1_000_000)));
    const fresh = Array.from({ length: appenders }, () => randomUUID());
    for (const s of fresh) await store.openSession(sessionStart(s, { instanceId: 'bench' }));
    const lat: number[] = [];
    const w = c.cpuWatch();
    const t0 = performance.now();
    stop = t0 + seconds * 1000;
    const counts = await Promise.all(fresh.map((s, i) => appendLoop(store, s, () => performance.now() > stop, lat, i * 1_000_000)));
    const elapsed = (performance.now() - t0) / 1000;
    const cpu = w.stop();
    const total = counts.reduce((a, b) => a + b, 0);
    const perSecond = total / elapsed;
    c.log(`  store alone: ${appenders} appenders, ${total.toLocaleString('en-US')} events in ${elapsed.toFixed(1)} s = ${Math.round(perSecond).toLocaleString('en-US')} events/s; ` +
      `append p50 ${percentile(lat, 50).toFixed(0)} µs, p99 ${percentile(lat, 99).toFixed(0)} µs under that load; others took ${cpu.foreignPct.toFixed(0)}% CPU`);

    // One appender, each append awaited: what a lone statement waits for.
    const single: number[] = [];
    const one = randomUUID();
    await store.openSession(sessionStart(one, { instanceId: 'bench' }));
    const count = c.quick ? 2000 : 20_000;
    await appendLoop(store, one, () => single.length >= count, single);
    c.log(`  store alone, 1 appender: append p50 ${percentile(single, 50).toFixed(0)} µs, p99 ${percentile(single, 99).toFixed(0)} µs`);
    c.raw.store = {
      appenders, seconds, events: total, eventsPerSecond: perSecond, foreignCpuPct: cpu.foreignPct,
      loadedAppend: { p50: percentile(lat, 50), p99: percentile(lat, 99) }, singleAppend: { n: count, p50: percentile(single, 50), p99: percentile(single, 99) },
      mix: '60% prepared point select with 1 binary row, 20% text select with 5 rows, 20% prepared update',
    };
    const name = 'store alone (SQLite, group commit)';
    return [
      row({ case: name, metric: `events/s, ${appenders} appenders`, unit: 'n', direct: null, relay: null, agentgate: perSecond,
        note: 'mix: 60% prepared point selects with a captured row, 20% selects with 5 rows, 20% updates; each append awaited' }),
      row({ case: name, metric: `append p50, ${appenders} appenders`, unit: 'us', direct: null, relay: null, agentgate: percentile(lat, 50) }),
      row({ case: name, metric: `append p99, ${appenders} appenders`, unit: 'us', direct: null, relay: null, agentgate: percentile(lat, 99) }),
      row({ case: name, metric: 'append p50, 1 appender', unit: 'us', direct: null, relay: null, agentgate: percentile(single, 50) }),
      row({ case: name, metric: 'append p99, 1 appender', unit: 'us', direct: null, relay: null, agentgate: percentile(single, 99) }),
    ];
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The single-row SELECT on the relay and on agentgate with and without recording, alternating gateway restarts. */
async function throughGateway(c: CaseContext): Promise<Row[]> {
  const { env } = c;
  const rounds = c.quick ? 2 : 4;
  const perRun = c.quick ? 2000 : 10_000;
  const samples: Record<'relay' | 'recording' | 'nostore', number[]> = { relay: [], recording: [], nostore: [] };
  const relay = await PointSelect.open(env, 'relay');
  try {
    for (let r = 0; r < rounds; r++) {
      const kind = r % 2 === 0 ? 'agentgate' : 'nostore';
      await env.startGateway({ kind });
      await sleep(300);
      const gw = await PointSelect.open(env, 'agentgate');
      const label = kind === 'agentgate' ? 'recording' : 'nostore';
      const res = await interleaved(c, { relay, [label]: gw }, 'text', perRun, 500, 2000);
      samples.relay.push(...res.samples.relay!);
      samples[label].push(...res.samples[label]!);
      c.log(`  gateway ${label.padEnd(9)} round ${r + 1}: p50 ${percentile(res.samples[label]!, 50).toFixed(0)} µs (relay ${percentile(res.samples.relay!, 50).toFixed(0)} µs)`);
      gw.close();
    }
  } finally {
    relay.close();
    await env.startGateway();
  }
  const p = (k: keyof typeof samples, q: number) => percentile(samples[k], q);
  const rec50 = p('recording', 50) - p('nostore', 50);
  const rec99 = p('recording', 99) - p('nostore', 99);
  (c.raw.store as Record<string, unknown>).throughGateway = {
    perRun, rounds, ...Object.fromEntries(Object.keys(samples).map((k) => [k, { p50: p(k as keyof typeof samples, 50), p99: p(k as keyof typeof samples, 99), n: samples[k as keyof typeof samples].length }])),
  };
  c.log(`  recording adds p50 ${rec50.toFixed(0)} µs, p99 ${rec99.toFixed(0)} µs per statement; the rest of the gateway p50 ${(p('nostore', 50) - p('relay', 50)).toFixed(0)} µs`);
  const name = 'recording per statement (single-row SELECT, text)';
  const note = `agentgate column: as shipped; the recording share compares it with the same gateway whose store does not write statement events (bench/gateway-nostore.ts: ${p('nostore', 50).toFixed(0)} µs p50, ${p('nostore', 99).toFixed(0)} µs p99)`;
  return [
    row({ case: name, metric: 'p50 latency', unit: 'us', direct: null, relay: p('relay', 50), agentgate: p('recording', 50), note }),
    row({ case: name, metric: 'p50 added by recording', unit: 'us', direct: null, relay: null, agentgate: rec50, ratio: null }),
    row({ case: name, metric: 'p99 latency', unit: 'us', direct: null, relay: p('relay', 99), agentgate: p('recording', 99) }),
    row({ case: name, metric: 'p99 added by recording', unit: 'us', direct: null, relay: null, agentgate: rec99, ratio: null }),
  ];
}

export async function storeCase(c: CaseContext): Promise<Row[]> {
  c.log('store: the embedded store alone');
  const rows = await storeAlone(c);
  c.log('store: through the gateway, with and without recording');
  rows.push(...(await throughGateway(c)));
  return rows;
}
