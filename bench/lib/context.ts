import type { BenchEnv } from './env.ts';
import { CpuWatch } from './proc.ts';
import type { Row } from './report.ts';

/** What every case gets: the environment, the run's mode, a logger, and a place for its raw figures (JSON). */
export interface CaseContext {
  env: BenchEnv;
  quick: boolean;
  log(s: string): void;
  /** Raw per-run figures of each case, written to the JSON file. */
  raw: Record<string, unknown>;
  /** Starts a CPU watch over the benchmark's processes (to report what others took meanwhile). */
  cpuWatch(): CpuWatch;
}

export type Case = (c: CaseContext) => Promise<Row[]>;

export function cpuWatchFor(env: BenchEnv): CpuWatch {
  return new CpuWatch(() => {
    const pids: number[] = [];
    try {
      pids.push(env.dbPid);
    } catch { /* not running */ }
    for (const p of [env.relay, env.gateway]) if (p && !p.exited) pids.push(p.pid);
    return pids;
  });
}
