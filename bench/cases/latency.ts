// Case 2: latency of a single-row SELECT over one connection, as text (COM_QUERY) and prepared (COM_STMT_EXECUTE),
// on the three paths in turn: blocks of statements, the path order rotating each round, so drift and other users of
// the machine fall on every path alike. Client: bench/lib/client.ts (the project's codec, one promise per statement).
import { BenchClient } from '../lib/client.ts';
import type { CaseContext } from '../lib/context.ts';
import { PATHS, type BenchEnv, type Path } from '../lib/env.ts';
import { row, type Row } from '../lib/report.ts';
import { percentile, rotation } from '../lib/stats.ts';

export type Mode = 'text' | 'prepared';

/** One connection that runs the single-row SELECT, text or prepared, and times each one (µs). */
export class PointSelect {
  private readonly client: BenchClient;
  private readonly stmt: number;
  private readonly ids: number;
  private n = 0;

  private constructor(client: BenchClient, stmt: number, ids: number) {
    this.client = client;
    this.stmt = stmt;
    this.ids = ids;
  }

  static async open(env: BenchEnv, path: Path): Promise<PointSelect> {
    const client = await BenchClient.connect(env.endpoint(path), { database: 'sbtest' });
    const stmt = await client.prepare('SELECT c FROM sbtest1 WHERE id = ?');
    return new PointSelect(client, stmt, env.size.tableSize);
  }

  /** Runs `count` statements back to back; appends each one's latency in µs to `out` (when given). */
  async run(mode: Mode, count: number, out?: number[]): Promise<void> {
    for (let i = 0; i < count; i++) {
      // A different row each time, in a fixed pseudo-random order.
      const id = 1 + ((this.n++ * 7919) % this.ids);
      const t0 = performance.now();
      const r = mode === 'text'
        ? await this.client.query(`SELECT c FROM sbtest1 WHERE id = ${id}`)
        : await this.client.execute(this.stmt, [{ type: 'LONGLONG', value: id }]);
      const us = (performance.now() - t0) * 1000;
      if (r.rows !== 1) throw new Error(`expected one row, got ${r.rows}`);
      out?.push(us);
    }
  }

  close(): void {
    this.client.close();
  }
}

export interface LatencyRun {
  samples: Record<string, number[]>;
  foreignCpuPct: number;
}

/** Interleaved blocks over several connections (named), after a warm-up on each. */
export async function interleaved(c: CaseContext, conns: Record<string, PointSelect>, mode: Mode, perPath: number, block: number, warm: number): Promise<LatencyRun> {
  const names = Object.keys(conns);
  const samples: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  for (const n of names) await conns[n]!.run(mode, warm);
  const w = c.cpuWatch();
  for (let r = 0; r * block < perPath; r++) {
    for (const n of rotation(names, r)) await conns[n]!.run(mode, Math.min(block, perPath - r * block), samples[n]);
  }
  return { samples, foreignCpuPct: w.stop().foreignPct };
}

export async function latencyCase(c: CaseContext): Promise<Row[]> {
  const perPath = c.quick ? 3000 : 30_000;
  const block = c.quick ? 500 : 1000;
  const warm = c.quick ? 500 : 3000;
  const conns: Record<string, PointSelect> = {};
  for (const p of PATHS) conns[p] = await PointSelect.open(c.env, p);
  const rows: Row[] = [];
  const raw: Record<string, unknown> = {};
  try {
    for (const mode of ['text', 'prepared'] as const) {
      c.log(`latency: ${perPath.toLocaleString('en-US')} single-row SELECTs (${mode}) per path, in blocks of ${block}`);
      const run = await interleaved(c, conns, mode, perPath, block, warm);
      const p = (path: Path, q: number) => percentile(run.samples[path]!, q);
      const name = `single-row SELECT, ${mode}`;
      const add50 = p('agentgate', 50) - p('relay', 50);
      const add99 = p('agentgate', 99) - p('relay', 99);
      raw[mode] = {
        foreignCpuPct: run.foreignCpuPct,
        ...Object.fromEntries(PATHS.map((x) => [x, { p50: p(x, 50), p90: p(x, 90), p99: p(x, 99), p999: p(x, 99.9), n: run.samples[x]!.length }])),
      };
      c.log(`  p50 ${PATHS.map((x) => `${x} ${p(x, 50).toFixed(0)} µs`).join(', ')}; p99 ${PATHS.map((x) => `${x} ${p(x, 99).toFixed(0)} µs`).join(', ')}; others took ${run.foreignCpuPct.toFixed(0)}% CPU`);
      rows.push(row({ case: name, metric: 'p50 latency', unit: 'us', direct: p('direct', 50), relay: p('relay', 50), agentgate: p('agentgate', 50) }));
      rows.push(row({ case: name, metric: 'p50 added over relay', unit: 'us', direct: null, relay: null, agentgate: add50, ratio: null, target: '< 100 µs', holds: add50 < 100 }));
      rows.push(row({ case: name, metric: 'p99 latency', unit: 'us', direct: p('direct', 99), relay: p('relay', 99), agentgate: p('agentgate', 99) }));
      rows.push(row({ case: name, metric: 'p99 added over relay', unit: 'us', direct: null, relay: null, agentgate: add99, ratio: null, target: '< 300 µs', holds: add99 < 300 }));
    }
  } finally {
    for (const k of Object.keys(conns)) conns[k]!.close();
  }
  c.raw.latency = { perPath, block, warm, client: 'bench/lib/client.ts (project codec)', ...raw };
  return rows;
}
