// The cost of the gateway, measured side by side: every case runs against MariaDB directly, through a bare Node TCP
// relay (bench/relay.ts, the floor for any Node proxy) and through agentgate (recording, a realistic policy and
// masking on), in the same run. Prints one table and writes the figures as JSON. Not part of the test run.
//
//   npm run bench -- [--quick] [--only sysbench,latency,stream,connections,store] [--out FILE] [--markdown]
//                    [--gateway-root DIR] [--gateway-node-flag FLAG]…
//
// --quick         short durations and smaller data: a smoke run (minutes), not figures to quote
// --only          a comma-separated subset of the cases (default: all, in the order above)
// --out           the JSON file (default bench/results/latest.json)
// --markdown      also print the table as Markdown
// --gateway-root  run the gateway of another checkout (its bin/ and src/; the harness stays this one's), e.g. a
//                 branch with a change, to compare its figures with a run on this checkout
// --gateway-node-flag  a flag for the gateway's node alone (repeatable; not the relay's), e.g. --use-largepages=on
//
// It starts its own MariaDB (a throwaway data folder), creates the sysbench tables and a 1M-row table, starts the
// relay and agentgate (`node bin/agentgate.js serve`) as processes of their own, and removes everything at the end.
// See docs/benchmarks.md for what each case measures and the conditions.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem, release } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import mysql from 'mysql2/promise';
import { connectionsCase } from './cases/connections.ts';
import { latencyCase } from './cases/latency.ts';
import { storeCase } from './cases/store.ts';
import { streamCase } from './cases/stream.ts';
import { sysbenchCase } from './cases/sysbench.ts';
import { cpuWatchFor, type Case, type CaseContext } from './lib/context.ts';
import { BenchEnv, repoRoot, type DataSize } from './lib/env.ts';
import { cpuIdle, loadAverage } from './lib/proc.ts';
import { markdown, table, UNSTEADY_SPREAD, type Row } from './lib/report.ts';

const CASES: Record<string, Case> = {
  sysbench: sysbenchCase,
  latency: latencyCase,
  stream: streamCase,
  connections: connectionsCase,
  store: storeCase,
};

const args = process.argv.slice(2);
const flag = (name: string) => args.includes(name);
const opt = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const FLAGS = new Set(['--quick', '--markdown']);
const VALUED = new Set(['--only', '--out', '--gateway-root', '--gateway-node-flag']);
const USAGE = `usage: npm run bench -- [--quick] [--only ${Object.keys(CASES).join(',')}] [--out FILE] [--markdown] [--gateway-root DIR] [--gateway-node-flag FLAG]…\n`;
const gatewayNodeFlags: string[] = [];
for (let i = 0; i < args.length; i++) {
  const a = args[i]!;
  if (FLAGS.has(a)) continue;
  if (!VALUED.has(a)) {
    process.stderr.write(`unknown option ${a}\n${USAGE}`);
    process.exit(2);
  }
  const value = args[++i];
  if (value === undefined) {
    process.stderr.write(`${a} needs a value\n${USAGE}`);
    process.exit(2);
  }
  // Its value starts with "--" itself: taken here, never read as an option.
  if (a === '--gateway-node-flag') gatewayNodeFlags.push(value);
}
const quick = flag('--quick');
const only = (opt('--only') ?? Object.keys(CASES).join(',')).split(',').map((s) => s.trim()).filter(Boolean);
for (const o of only) {
  if (!CASES[o]) {
    process.stderr.write(`unknown case "${o}"; cases: ${Object.keys(CASES).join(', ')}\n`);
    process.exit(2);
  }
}
const outFile = resolve(opt('--out') ?? join(repoRoot, 'bench', 'results', 'latest.json'));
const gatewayRoot = opt('--gateway-root') ? resolve(opt('--gateway-root')!) : undefined;

const size: DataSize = quick
  ? { tables: 2, tableSize: 10_000, streamRows: only.includes('stream') ? 200_000 : 1000 }
  : { tables: 4, tableSize: 100_000, streamRows: only.includes('stream') ? 1_000_000 : 1000 };

const t0 = Date.now();
const log = (s: string) => process.stderr.write(`[${((Date.now() - t0) / 1000).toFixed(0).padStart(4)} s] ${s}\n`);
const version = (cmd: string, a: string[]) => {
  try {
    return execFileSync(cmd, a, { encoding: 'utf8' }).trim().split('\n')[0]!;
  } catch {
    return 'unknown';
  }
};

const conditions: Record<string, unknown> = {
  startedAt: new Date().toISOString(),
  mode: quick ? 'quick (smoke run: short durations, small data)' : 'full',
  commit: version('git', ['-C', repoRoot, 'rev-parse', '--short', 'HEAD']),
  gateway: gatewayRoot ? `${gatewayRoot} (${version('git', ['-C', gatewayRoot, 'rev-parse', '--short', 'HEAD'])})` : 'this checkout',
  gatewayNodeFlags,
  node: process.version,
  kernel: release(),
  cpu: `${cpus().length} x ${cpus()[0]?.model ?? '?'}`,
  cpuIdle: cpuIdle(),
  memoryGB: Math.round(totalmem() / 2 ** 30),
  sysbench: version('sysbench', ['--version']),
  loadAverageAtStart: loadAverage(),
  data: size,
  placement: 'client, proxy and MariaDB share the machine\'s cores; nothing is pinned; everything over loopback TCP',
  clients: {
    sysbench: 'sysbench (libmariadb), prepared statements (--db-ps-mode=auto), the same options on every path',
    latency: 'bench/lib/client.ts: the project\'s own codec, one write and one promise per statement, no row decoding',
  },
  agentgate: 'node bin/agentgate.js serve; SQLite store on local disk (WAL, group commit, synchronous=NORMAL, 1,000 rows kept per result); ' +
    'policy: guardrails recommended + 3 rules; masking bench.people.ssn (partial) by name and the credit_card detector on every value',
  relay: 'node bench/relay.ts: net.Socket pipe both ways, Nagle off',
};

let env: BenchEnv | null = null;
const onSignal = () => {
  env?.killNow();
  process.exit(130);
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);
process.on('SIGHUP', onSignal);

const rows: Row[] = [];
const raw: Record<string, unknown> = {};
const caseConditions: Record<string, unknown> = {};
let failure: Error | null = null;
try {
  env = await BenchEnv.start(size, log);
  const e = env;
  e.gatewayRoot = gatewayRoot;
  e.gatewayNodeFlags = gatewayNodeFlags;
  const db = await mysql.createConnection({ host: e.db.host, port: e.db.port, user: 'root' });
  const [v] = (await db.query('SELECT VERSION() AS v')) as unknown as [{ v: string }[]];
  conditions.mariadb = `${v[0]!.v} (buffer pool 1G, innodb_flush_log_at_trx_commit=2, no binlog, max_connections 3000)`;
  await db.end();
  await e.startRelay();
  await e.startGateway();
  log(`relay on ${e.relay!.port}, agentgate on ${e.gateway!.port}, MariaDB on ${e.db.port}`);
  const ctx: CaseContext = { env: e, quick, log, raw, cpuWatch: () => cpuWatchFor(e) };
  for (const name of only) {
    log(`case ${name}: starting (load average ${loadAverage()})`);
    const w = ctx.cpuWatch();
    const started = Date.now();
    rows.push(...(await CASES[name]!(ctx)));
    const cpu = w.stop();
    caseConditions[name] = { seconds: Math.round((Date.now() - started) / 1000), machineBusyPct: Math.round(cpu.busyPct), othersCpuPct: Math.round(cpu.foreignPct * 10) / 10 };
    log(`case ${name}: done in ${Math.round((Date.now() - started) / 1000)} s; other processes took ${cpu.foreignPct.toFixed(1)}% of the machine meanwhile`);
  }
} catch (err) {
  failure = err as Error;
  log(`FAILED: ${failure.stack ?? failure.message}`);
} finally {
  await env?.stop();
}
conditions.loadAverageAtEnd = loadAverage();
conditions.cases = caseConditions;

if (rows.length) {
  process.stdout.write(`\nagentgate benchmark (${quick ? 'quick' : 'full'} run, ${new Date().toISOString()})\n\n`);
  process.stdout.write(table(rows) + '\n\n');
  process.stdout.write('Conditions:\n');
  for (const [k, v] of Object.entries(conditions)) process.stdout.write(`  ${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}\n`);
  const targets = rows.filter((r) => r.holds !== null);
  const unsteady = targets.filter((r) => r.unsteady);
  process.stdout.write(`\nTargets: ${targets.filter((r) => r.holds).length} of ${targets.length} hold` +
    (targets.some((r) => !r.holds) ? ` (missed: ${targets.filter((r) => !r.holds).map((r) => `${r.case} / ${r.metric}`).join('; ')})` : '') + '\n' +
    (unsteady.length ? `Unsteady verdicts (runs of one path spread more than ${UNSTEADY_SPREAD}x; run again on a quieter machine): ${unsteady.map((r) => `${r.case} / ${r.metric} (${r.holds ? 'holds' : 'missed'}; ${r.unsteady})`).join('; ')}\n` : ''));
  if (flag('--markdown')) process.stdout.write('\n' + markdown(rows) + '\n');
}
mkdirSync(dirname(outFile), { recursive: true });
writeFileSync(outFile, JSON.stringify({ conditions, rows, raw, failure: failure?.message ?? null }, null, 2) + '\n');
process.stdout.write(`\nJSON: ${outFile}\n`);
process.exit(failure ? 1 : 0);
