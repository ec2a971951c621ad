// The result table: one row per figure, three paths side by side, the agentgate/relay ratio and the target.

export interface Row {
  case: string;
  metric: string;
  /** How values print: 'n' plain number, 'ms', 'us', 'MB', 'KB', 's', '%'. */
  unit: 'n' | 'ms' | 'us' | 'MB' | 'KB' | 's';
  direct: number | null;
  relay: number | null;
  agentgate: number | null;
  /** agentgate / relay, when both are known and the ratio means something. */
  ratio: number | null;
  /** The target in words, e.g. ">= 0.90 x relay". */
  target: string | null;
  /** Whether the target holds (null: no target, or not measurable). */
  holds: boolean | null;
  /** Anything a reader needs to read the row right (spread of repeated runs, what a column means here). */
  note?: string;
  /**
   * Set when the runs behind a verdict spread so widely (the fastest over the slowest of one path) that the verdict
   * may be the machine's rather than the proxies': printed next to holds? and in the summary.
   */
  unsteady?: string;
}

/** Runs of one path whose fastest is more than this over the slowest make a verdict unsteady. */
export const UNSTEADY_SPREAD = 1.25;

/** The widest fastest/slowest spread among these paths' runs, as a note, when it exceeds UNSTEADY_SPREAD. */
export function unsteadiness(runs: Record<string, readonly number[]>): string | undefined {
  let worst: { path: string; spread: number } | null = null;
  for (const [path, values] of Object.entries(runs)) {
    const ok = values.filter((v) => Number.isFinite(v) && v > 0);
    if (ok.length < 2) continue;
    const spread = Math.max(...ok) / Math.min(...ok);
    if (!worst || spread > worst.spread) worst = { path, spread };
  }
  return worst && worst.spread > UNSTEADY_SPREAD ? `the ${worst.path}'s runs spread ${worst.spread.toFixed(2)}x` : undefined;
}

function verdict(r: Row, no: string): string {
  if (r.holds === null) return '';
  return (r.holds ? 'yes' : no) + (r.unsteady ? ' (unsteady)' : '');
}

export function row(r: Omit<Row, 'ratio' | 'target' | 'holds'> & Partial<Pick<Row, 'ratio' | 'target' | 'holds'>>): Row {
  const ratio = r.ratio !== undefined ? r.ratio : r.agentgate !== null && r.relay !== null && r.relay !== 0 ? r.agentgate / r.relay : null;
  return { ...r, ratio, target: r.target ?? null, holds: r.holds ?? null };
}

function fmtNum(v: number): string {
  const a = Math.abs(v);
  if (a >= 100) return Math.round(v).toLocaleString('en-US');
  if (a >= 10) return v.toFixed(1);
  return v.toFixed(2);
}

export function fmt(v: number | null, unit: Row['unit']): string {
  if (v === null || !Number.isFinite(v)) return '–';
  const n = fmtNum(v);
  return unit === 'n' ? n : `${n} ${unit === 'us' ? 'µs' : unit}`;
}

export function table(rows: Row[]): string {
  const head = ['case', 'metric', 'direct', 'relay', 'agentgate', 'agentgate/relay', 'target', 'holds?'];
  const body = rows.map((r) => [
    r.case, r.metric, fmt(r.direct, r.unit), fmt(r.relay, r.unit), fmt(r.agentgate, r.unit),
    r.ratio === null || !Number.isFinite(r.ratio) ? '–' : `${r.ratio.toFixed(2)}x`,
    r.target ?? '', verdict(r, 'NO'),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const right = new Set([2, 3, 4, 5]);
  const line = (cells: string[]) => cells.map((c, i) => (right.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
  const out = [line(head), widths.map((w) => '-'.repeat(w)).join('  ')];
  let last = '';
  for (let i = 0; i < rows.length; i++) {
    const cells = [...body[i]!];
    if (rows[i]!.case === last) cells[0] = '';
    else last = rows[i]!.case;
    out.push(line(cells));
  }
  const notes = rows.filter((r) => r.note).map((r) => `  ${r.case} / ${r.metric}: ${r.note}`);
  if (notes.length) out.push('', 'Notes:', ...notes);
  return out.join('\n');
}

/** The same table as Markdown (for docs/benchmarks.md). */
export function markdown(rows: Row[]): string {
  const out = ['| case | metric | direct | relay | agentgate | agentgate/relay | target | holds? |', '|---|---|--:|--:|--:|--:|---|---|'];
  for (const r of rows) {
    out.push(`| ${r.case} | ${r.metric} | ${fmt(r.direct, r.unit)} | ${fmt(r.relay, r.unit)} | ${fmt(r.agentgate, r.unit)} | ${r.ratio === null || !Number.isFinite(r.ratio) ? '–' : `${r.ratio.toFixed(2)}x`} | ${r.target ?? ''} | ${verdict(r, '**no**')} |`);
  }
  return out.join('\n');
}
