// Runs sysbench 1.0 (Debian's) and reads its summary.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface SysbenchResult {
  qps: number;
  tps: number;
  /** 95th percentile latency of one sysbench event (a transaction; one query for oltp_point_select), ms. */
  p95ms: number;
  avgms: number;
  ignoredErrors: number;
  reconnects: number;
}

export function parseSysbench(out: string): SysbenchResult {
  const num = (re: RegExp) => {
    const m = re.exec(out);
    if (!m) throw new Error(`sysbench output without ${re}:\n${out.slice(-2000)}`);
    return Number(m[1]);
  };
  return {
    qps: num(/queries:\s+\d+\s+\(([\d.]+) per sec\.\)/),
    tps: num(/transactions:\s+\d+\s+\(([\d.]+) per sec\.\)/),
    p95ms: num(/95th percentile:\s+([\d.]+)/),
    avgms: num(/avg:\s+([\d.]+)/),
    ignoredErrors: num(/ignored errors:\s+(\d+)/),
    reconnects: num(/reconnects:\s+(\d+)/),
  };
}

export interface SysbenchRun {
  test: string;
  threads: number;
  seconds: number;
  conn: string[];
  tables: number;
  tableSize: number;
}

/**
 * One sysbench run (prepared statements, as sysbench uses them by default: --db-ps-mode=auto). sysbench 1.0 has no
 * --warmup-time: callers warm up with a run of their own.
 */
export async function sysbench(r: SysbenchRun): Promise<SysbenchResult> {
  const args = [r.test, ...r.conn, `--tables=${r.tables}`, `--table-size=${r.tableSize}`, `--threads=${r.threads}`,
    `--time=${r.seconds}`, '--report-interval=0', '--percentile=95', '--db-ps-mode=auto', 'run'];
  let out: string;
  try {
    const res = await run('sysbench', args, { maxBuffer: 16 << 20, timeout: (r.seconds + 60) * 1000 });
    out = res.stdout + res.stderr;
  } catch (e) {
    const x = e as { stdout?: string; stderr?: string; message: string };
    throw new Error(`sysbench ${r.test} failed: ${x.message}\n${(x.stdout ?? '').slice(-1500)}\n${(x.stderr ?? '').slice(-1500)}`);
  }
  if (/FATAL/.test(out)) throw new Error(`sysbench ${r.test} reported a fatal error:\n${out.slice(-2000)}`);
  return parseSysbench(out);
}
