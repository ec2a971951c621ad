// Case 1: sysbench oltp_point_select, oltp_read_only and oltp_read_write at 1 and 8 threads, on the three paths in
// turn (the order rotates every round), the median of the rounds reported.
import type { CaseContext } from '../lib/context.ts';
import { PATHS, type Path } from '../lib/env.ts';
import { row, unsteadiness, type Row } from '../lib/report.ts';
import { middle, rotation } from '../lib/stats.ts';
import { cpuSeconds, rss } from '../lib/proc.ts';
import { sysbench, type SysbenchResult } from '../lib/sysbench.ts';

export const TESTS = ['oltp_point_select', 'oltp_read_only', 'oltp_read_write'] as const;
export const THREADS = [1, 8] as const;

export async function sysbenchCase(c: CaseContext): Promise<Row[]> {
  const { env, quick } = c;
  const seconds = quick ? 3 : 15;
  const warmup = quick ? 1 : 3;
  const rounds = quick ? 1 : 3;
  const common = { tables: env.size.tables, tableSize: env.size.tableSize };
  const rows: Row[] = [];
  const raw: Record<string, unknown> = {};
  for (const test of TESTS) {
    for (const threads of THREADS) {
      const runs: Record<Path, (SysbenchResult & { foreignCpuPct: number; proxyCpuUsPerQuery: number | null })[]> = { direct: [], relay: [], agentgate: [] };
      // Untimed warm-up of this test on each path (buffer pool, the proxies' JIT and caches, the statements' plans).
      for (const p of PATHS) await sysbench({ ...common, test, threads, seconds: warmup, conn: env.sysbenchConnArgs(p) });
      for (let r = 0; r < rounds; r++) {
        for (const p of rotation(PATHS, r)) {
          const w = c.cpuWatch();
          const proc = env.proc(p);
          const before = proc ? cpuSeconds(proc.pid) : 0;
          const res = await sysbench({ ...common, test, threads, seconds, conn: env.sysbenchConnArgs(p) });
          // CPU the proxy process used (all its threads) per query: less sensitive to other users of the machine
          // than queries/s, and what decides throughput when client, proxy and server share the cores.
          const proxyCpu = proc ? ((cpuSeconds(proc.pid) - before) * 1e6) / (res.qps * seconds) : null;
          const cpu = w.stop();
          runs[p].push({ ...res, foreignCpuPct: Math.round(cpu.foreignPct * 10) / 10, proxyCpuUsPerQuery: proxyCpu });
          c.log(`  ${test} ${threads} thr ${p.padEnd(9)} round ${r + 1}: ${Math.round(res.qps).toLocaleString('en-US')} q/s, p95 ${res.p95ms} ms` +
            (proxyCpu !== null ? `, proxy CPU ${proxyCpu.toFixed(0)} µs/query` : '') +
            `${res.ignoredErrors ? `, ${res.ignoredErrors} ignored errors` : ''}, others took ${cpu.foreignPct.toFixed(0)}% CPU`);
        }
      }
      raw[`${test}/${threads}`] = runs;
      const med = (p: Path, k: 'qps' | 'p95ms') => middle(runs[p].map((x) => x[k]));
      const name = `sysbench ${test.replace('oltp_', '')}, ${threads} thr`;
      const ratio = med('agentgate', 'qps') / med('relay', 'qps');
      const spread = (p: Path) => runs[p].map((x) => Math.round(x.qps)).join('/');
      rows.push(row({
        case: name, metric: 'queries/s', unit: 'n', direct: med('direct', 'qps'), relay: med('relay', 'qps'), agentgate: med('agentgate', 'qps'),
        target: '>= 0.90x relay', holds: ratio >= 0.9,
        unsteady: unsteadiness({ relay: runs.relay.map((x) => x.qps), agentgate: runs.agentgate.map((x) => x.qps) }),
        note: rounds > 1 ? `median of ${rounds} runs of ${seconds} s; runs (direct; relay; agentgate): ${spread('direct')}; ${spread('relay')}; ${spread('agentgate')}` : undefined,
      }));
      rows.push(row({ case: name, metric: 'p95 latency per event', unit: 'ms', direct: med('direct', 'p95ms'), relay: med('relay', 'p95ms'), agentgate: med('agentgate', 'p95ms') }));
      const cpu = (p: Path) => middle(runs[p].map((x) => x.proxyCpuUsPerQuery ?? Number.NaN));
      rows.push(row({ case: name, metric: 'proxy CPU per query', unit: 'us', direct: null, relay: cpu('relay'), agentgate: cpu('agentgate') }));
    }
  }
  // What a proxy keeps once the load is over: caches filled, heaps grown and not given back. The stream case measures
  // a gateway started afresh; this is the same process after every run above.
  const after = (p: Path) => {
    const proc = env.proc(p);
    return proc ? rss(proc.pid) / (1 << 20) : null;
  };
  const afterRss = { relay: after('relay'), agentgate: after('agentgate') };
  rows.push(row({
    case: 'sysbench, every case above', metric: 'proxy RSS after them', unit: 'MB', direct: null, relay: afterRss.relay, agentgate: afterRss.agentgate,
    note: `the same proxy process throughout: ${TESTS.length * THREADS.length} cases of ${rounds} runs of ${seconds} s (and their warm-ups)`,
  }));
  c.raw.sysbench = { seconds, warmupSeconds: warmup, rounds, tables: env.size.tables, tableSize: env.size.tableSize, runs: raw, proxyRssAfterMB: afterRss };
  return rows;
}
