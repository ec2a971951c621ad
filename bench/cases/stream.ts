// Case 3: one SELECT of the whole bench.people table (1,000,000 rows of about 100 bytes) streamed to a client that
// counts rows; through agentgate its ssn column is masked by name (and every string cell passes the content
// detector). Reports the time to the last row and the proxy's peak RSS (VmHWM, reset before each run). The client
// checks the ssn cell of every 100th row: masked through agentgate, the real value on the other paths.
import { scanTextRow } from '../../src/protocol/rows.ts';
import { BenchClient } from '../lib/client.ts';
import type { CaseContext } from '../lib/context.ts';
import { PATHS, type Path } from '../lib/env.ts';
import { cpuSeconds, peakRss, resetPeak, rss } from '../lib/proc.ts';
import { row, unsteadiness, type Row } from '../lib/report.ts';
import { MB, middle, rotation, sleep } from '../lib/stats.ts';

const SQL = 'SELECT id, name, email, ssn, city, note FROM people';
const SSN = 3;
const MASKED = /^\*\*\*-\*\*-\d{4}$/;
const REAL = /^\d{3}-\d{2}-\d{4}$/;

interface StreamRun {
  seconds: number;
  rows: number;
  bytes: number;
  /** The proxy's RSS before and its peak during the run (bytes); null on the direct path. */
  rssBefore: number | null;
  peakRss: number | null;
  /** CPU seconds the proxy process used for the stream. */
  proxyCpu: number | null;
  checked: number;
  masked: number;
  real: number;
  foreignCpuPct?: number;
}

async function streamOnce(c: CaseContext, path: Path): Promise<StreamRun> {
  const proc = c.env.proc(path);
  const client = await BenchClient.connect(c.env.endpoint(path), { database: 'bench' });
  const spans = new Int32Array(12);
  let bytes = 0;
  let checked = 0;
  let masked = 0;
  let real = 0;
  await sleep(200);
  const before = proc ? rss(proc.pid) : null;
  if (proc && !resetPeak(proc.pid)) throw new Error('cannot reset VmHWM (/proc/PID/clear_refs)');
  const cpu0 = proc ? cpuSeconds(proc.pid) : 0;
  const t0 = performance.now();
  const r = await client.query(SQL, (p, i) => {
    bytes += p.length + 4;
    if (i % 100 !== 0) return;
    scanTextRow(p, 6, spans);
    const v = p.toString('latin1', spans[2 * SSN]!, spans[2 * SSN + 1]!);
    checked++;
    if (MASKED.test(v)) masked++;
    else if (REAL.test(v)) real++;
  });
  const seconds = (performance.now() - t0) / 1000;
  const peak = proc ? peakRss(proc.pid) : null;
  const proxyCpu = proc ? cpuSeconds(proc.pid) - cpu0 : null;
  client.close();
  return { seconds, rows: r.rows, bytes, rssBefore: before, peakRss: peak, proxyCpu, checked, masked, real };
}

export async function streamCase(c: CaseContext): Promise<Row[]> {
  const { env } = c;
  const rounds = c.quick ? 1 : 3;
  // Fresh proxies: their peak memory is this case's alone, not what earlier cases left in their heaps.
  c.log('stream: restarting the relay and agentgate');
  await env.startRelay();
  await env.startGateway();
  const runs: Record<Path, StreamRun[]> = { direct: [], relay: [], agentgate: [] };
  for (let r = 0; r < rounds; r++) {
    for (const p of rotation(PATHS, r)) {
      const w = c.cpuWatch();
      const s = await streamOnce(c, p);
      const cpu = w.stop();
      s.foreignCpuPct = Math.round(cpu.foreignPct * 10) / 10;
      runs[p].push(s);
      c.log(`  ${p.padEnd(9)} round ${r + 1}: ${s.rows.toLocaleString('en-US')} rows (${(s.bytes / MB).toFixed(0)} MB) in ${s.seconds.toFixed(2)} s` +
        (s.peakRss !== null ? `, proxy RSS ${(s.rssBefore! / MB).toFixed(0)} MB before, peak ${(s.peakRss / MB).toFixed(0)} MB, CPU ${s.proxyCpu!.toFixed(2)} s` : '') +
        `; ssn cells checked ${s.checked}: ${s.masked} masked, ${s.real} real; others took ${cpu.foreignPct.toFixed(0)}% CPU`);
      if (s.rows !== env.size.streamRows) throw new Error(`${p}: ${s.rows} rows arrived, ${env.size.streamRows} expected`);
      const ok = p === 'agentgate' ? s.masked === s.checked : s.real === s.checked;
      if (!ok) throw new Error(`${p}: the ssn column is not as expected (${s.masked} masked, ${s.real} real of ${s.checked} checked)`);
    }
  }
  c.raw.stream = { rows: env.size.streamRows, rounds, sql: SQL, maskedColumn: 'bench.people.ssn (partial)', runs };
  const t = (p: Path) => middle(runs[p].map((x) => x.seconds));
  const peak = (p: Path) => Math.max(...runs[p].map((x) => x.peakRss ?? 0)) / MB;
  const growth = (p: Path) => Math.max(...runs[p].map((x) => (x.peakRss ?? 0) - (x.rssBefore ?? 0))) / MB;
  const cpu = (p: Path) => middle(runs[p].map((x) => x.proxyCpu ?? Number.NaN));
  const name = `stream ${(env.size.streamRows / 1e6).toLocaleString('en-US')}M rows, 1 column masked`;
  const ratio = t('agentgate') / t('relay');
  const note = `ssn of every 100th row checked: masked through agentgate, real elsewhere; ${(runs.direct[0]!.bytes / MB).toFixed(0)} MB on the wire; ` +
    `time is the median of ${rounds} run(s); peak RSS is the highest VmHWM of the proxy process (reset before each run)`;
  return [
    row({ case: name, metric: 'time to last row', unit: 's', direct: t('direct'), relay: t('relay'), agentgate: t('agentgate'), target: '<= 1.5x relay', holds: ratio <= 1.5, note,
      unsteady: unsteadiness({ relay: runs.relay.map((x) => x.seconds), agentgate: runs.agentgate.map((x) => x.seconds) }) }),
    row({ case: name, metric: 'proxy peak RSS', unit: 'MB', direct: null, relay: peak('relay'), agentgate: peak('agentgate'), target: '< 150 MB', holds: peak('agentgate') < 150,
      note: `the proxy's RSS before the stream: relay ${(Math.min(...runs.relay.map((x) => x.rssBefore ?? 0)) / MB).toFixed(0)} MB, agentgate ${(Math.min(...runs.agentgate.map((x) => x.rssBefore ?? 0)) / MB).toFixed(0)} MB` }),
    row({ case: name, metric: 'proxy RSS growth (peak - before)', unit: 'MB', direct: null, relay: growth('relay'), agentgate: growth('agentgate') }),
    row({ case: name, metric: 'proxy CPU time', unit: 's', direct: null, relay: cpu('relay'), agentgate: cpu('agentgate') }),
  ];
}
