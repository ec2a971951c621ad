// Where agentgate spends its CPU under load: runs the gateway (`node --cpu-prof bin/agentgate.js serve`, the same
// config as bench/run.ts) on a throwaway MariaDB, drives a load through it, stops it, and prints the functions with
// the most self time in the measured window (warm-up and start-up excluded).
//
//   node bench/profile.ts [options]      (Node 24: ./node_modules/.bin/node, or PATH=$PWD/node_modules/.bin:$PATH)
//
//   --load sysbench|latency|stream   default sysbench
//   --test NAME      sysbench test (default oltp_read_only)      --threads N   default 8
//   --seconds N      measured seconds (default 20)                --top N       default 30
//   --kind agentgate|nostore|relay  the gateway as shipped, or with statement recording off (bench/gateway-nostore.ts),
//                    or the bare relay (bench/relay.ts) for comparison (implies --threads-only)
//   --keep FILE      copy the .cpuprofile there (open it in Chrome DevTools or speedscope)
//   --interval US    sampling interval in µs (default 250)
//   --threads-only   no V8 profile: only the CPU each thread of the gateway used (no profiler overhead)
//   --root DIR       profile the gateway of another checkout (its bin/ and src/), e.g. a branch with a fix
//   --mode text|prepared   for --load latency: COM_QUERY texts (default) or a prepared statement
//   --node-flag=FLAG a flag for the gateway's node (repeatable), e.g. --node-flag=--single-threaded-gc
//   --thread main|writer   whose V8 profile to summarize: the event loop (default) or the audit store's writer thread
import { copyFileSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { PointSelect } from './cases/latency.ts';
import { BenchClient } from './lib/client.ts';
import { printSummary, summarize, type CpuProfile } from './lib/cpuprofile.ts';
import { BenchEnv, repoRoot, type GatewayKind, type Path } from './lib/env.ts';
import { threadCpu } from './lib/proc.ts';
import { sysbench } from './lib/sysbench.ts';

const args = process.argv.slice(2);
const opt = (name: string, d: string) => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : d;
};
const load = opt('--load', 'sysbench');
const test = opt('--test', 'oltp_read_only');
const threads = Number(opt('--threads', '8'));
const seconds = Number(opt('--seconds', '20'));
const top = Number(opt('--top', '30'));
const kind = opt('--kind', 'agentgate') as GatewayKind | 'relay';
const path: Path = kind === 'relay' ? 'relay' : 'agentgate';
const keep = args.includes('--keep') ? resolve(opt('--keep', '')) : null;
const interval = Number(opt('--interval', '250'));
const threadsOnly = args.includes('--threads-only') || kind === 'relay';
const root = args.includes('--root') ? resolve(opt('--root', '.')) : undefined;
const mode = opt('--mode', 'text') as 'text' | 'prepared';
const thread = opt('--thread', 'main');
const nodeFlags = args.filter((a) => a.startsWith('--node-flag=')).map((a) => a.slice('--node-flag='.length));
if (!['sysbench', 'latency', 'stream'].includes(load) || !['agentgate', 'nostore', 'relay'].includes(kind) || !['text', 'prepared'].includes(mode) || !['main', 'writer'].includes(thread)) {
  process.stderr.write('usage: node bench/profile.ts [--load sysbench|latency|stream] [--test NAME] [--threads N] [--seconds N] [--top N] [--kind agentgate|nostore|relay] [--keep FILE] [--mode text|prepared] [--thread main|writer] [--node-flag=FLAG]…\n');
  process.exit(2);
}

const log = (s: string) => process.stderr.write(`${s}\n`);
const nowUs = () => Number(process.hrtime.bigint() / 1000n);

const env = await BenchEnv.start({ tables: 4, tableSize: 100_000, streamRows: load === 'stream' ? 1_000_000 : 1000 }, log);
// Interrupted (Ctrl-C, `timeout`, a closed terminal): nothing may outlive the run.
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(sig, () => {
    env.killNow();
    process.exit(130);
  });
}
let window: [number, number] = [0, 0];
let profDir = '';
let pid = 0;
// CPU per thread over the measured window (the V8 profile samples the main thread only, by wall clock).
let threadsAtStart: ReturnType<typeof threadCpu> = new Map();
let threadsAtEnd = threadsAtStart;
let statements = 0;
try {
  profDir = join(env.dir, 'profiles');
  mkdirSync(profDir, { recursive: true });
  const g = kind === 'relay' ? await env.startRelay() : await env.startGateway({ kind, root, nodeFlags: threadsOnly ? nodeFlags : [...nodeFlags, '--cpu-prof', `--cpu-prof-dir=${profDir}`, `--cpu-prof-interval=${interval}`] });
  pid = g.pid;
  log(`gateway (${kind}) pid ${pid}; load: ${load}`);
  if (load === 'sysbench') {
    const common = { tables: env.size.tables, tableSize: env.size.tableSize, conn: env.sysbenchConnArgs(path) };
    await sysbench({ ...common, test, threads, seconds: 5 });
    threadsAtStart = threadCpu(pid);
    window = [nowUs(), 0];
    const r = await sysbench({ ...common, test, threads, seconds });
    window[1] = nowUs();
    threadsAtEnd = threadCpu(pid);
    statements = r.qps * seconds;
    log(`sysbench ${test}, ${threads} threads: ${Math.round(r.qps).toLocaleString('en-US')} queries/s, p95 ${r.p95ms} ms`);
  } else if (load === 'latency') {
    const ps = await PointSelect.open(env, path);
    await ps.run(mode, 3000);
    const lat: number[] = [];
    threadsAtStart = threadCpu(pid);
    window = [nowUs(), 0];
    const end = performance.now() + seconds * 1000;
    while (performance.now() < end) await ps.run(mode, 500, lat);
    window[1] = nowUs();
    threadsAtEnd = threadCpu(pid);
    statements = lat.length;
    ps.close();
    lat.sort((a, b) => a - b);
    log(`single-row SELECT (${mode}), one connection: ${lat.length.toLocaleString('en-US')} statements, p50 ${lat[lat.length >> 1]!.toFixed(0)} µs`);
  } else {
    const c = await BenchClient.connect(env.endpoint(path), { database: 'bench' });
    await c.query('SELECT id, name, email, ssn, city, note FROM people LIMIT 100000');
    window = [nowUs(), 0];
    const end = performance.now() + seconds * 1000;
    let n = 0;
    threadsAtStart = threadCpu(pid);
    while (performance.now() < end || n === 0) {
      await c.query('SELECT id, name, email, ssn, city, note FROM people');
      n++;
    }
    window[1] = nowUs();
    threadsAtEnd = threadCpu(pid);
    statements = n;
    c.close();
    log(`streamed the 1M-row SELECT ${n} time(s)`);
  }
  const byName = new Map<string, { seconds: number; system: number }>();
  for (const [tid, t] of threadsAtEnd) {
    const before = threadsAtStart.get(tid);
    const name = tid === pid ? 'main thread' : t.name;
    const sum = byName.get(name) ?? { seconds: 0, system: 0 };
    sum.seconds += t.seconds - (before?.seconds ?? 0);
    sum.system += t.system - (before?.system ?? 0);
    byName.set(name, sum);
  }
  const total = { seconds: 0, system: 0 };
  for (const v of byName.values()) {
    total.seconds += v.seconds;
    total.system += v.system;
  }
  const each = (sec: number) => (statements ? `${((sec / statements) * 1e6).toFixed(1).padStart(9)} µs` : '');
  const line = (name: string, v: { seconds: number; system: number }) =>
    `  ${name.padEnd(16)} ${v.seconds.toFixed(2).padStart(7)} s ${each(v.seconds)} ${each(v.system)}\n`;
  process.stdout.write(`CPU per thread in the measured window (${statements.toLocaleString('en-US')} ${load === 'stream' ? 'streams' : 'statements'}):\n`);
  process.stdout.write(`  ${'thread'.padEnd(16)} ${'total'.padStart(9)} ${statements ? `${'each'.padStart(12)} ${'in kernel'.padStart(12)}` : ''}\n`);
  for (const [name, v] of [...byName].sort((a, b) => b[1].seconds - a[1].seconds)) {
    if (v.seconds <= 0) continue;
    process.stdout.write(line(name, v));
  }
  process.stdout.write(line('all', total) + '\n');
  await env.stopGateway(true);
  if (!threadsOnly) {
    const files = readdirSync(profDir).filter((f) => f.startsWith('CPU.') && f.includes(`.${pid}.`) && f.endsWith('.cpuprofile'));
    if (!files.length) throw new Error('the gateway wrote no .cpuprofile');
    // The main thread's profile is the one with thread id 0; each worker thread writes one with its own id (the
    // store's writer thread is the only long-lived worker). The launcher re-executes itself in the same process
    // (same pid) to set V8 flags, and the first image writes a short profile of its own as it goes: take the
    // profile written last.
    const ofThread = files.filter((f) => (f.split('.')[4] === '0') === (thread === 'main'));
    if (thread === 'writer' && !ofThread.length) throw new Error('the gateway wrote no worker-thread .cpuprofile');
    const byAge = (ofThread.length ? ofThread : files).map((f) => ({ f, t: statSync(join(profDir, f)).mtimeMs })).sort((a, b) => a.t - b.t);
    const path = join(profDir, byAge[byAge.length - 1]!.f);
    const prof = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
    let s = summarize(prof, root ?? repoRoot, window);
    if (s.samples === 0) {
      log('(no samples inside the measured window: the clocks disagree; showing the whole run)');
      s = summarize(prof, root ?? repoRoot);
    }
    printSummary(s, top, (l) => process.stdout.write(l + '\n'), thread === 'main' ? 'the main thread' : 'the writer thread');
    if (keep) {
      mkdirSync(dirname(keep), { recursive: true });
      copyFileSync(path, keep);
      log(`profile: ${keep}`);
    }
  }
} finally {
  await env.stop();
}
