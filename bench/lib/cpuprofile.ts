// Reads a V8 .cpuprofile (what `node --cpu-prof` writes) and ranks functions by self and total time, optionally only
// over samples inside a time window (the profiler's clock is CLOCK_MONOTONIC in µs, as process.hrtime is in ns).

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface FunctionTime {
  name: string;
  where: string;
  selfMs: number;
  totalMs: number;
  selfPct: number;
  totalPct: number;
}

export interface ProfileSummary {
  /** Sampled time considered, ms. */
  windowMs: number;
  samples: number;
  idlePct: number;
  gcPct: number;
  /** Everything but idle. */
  busyPct: number;
  functions: FunctionTime[];
  files: { file: string; selfMs: number; selfPct: number }[];
}

function where(cf: CallFrame, root: string): string {
  let u = cf.url;
  if (!u) return '';
  if (u.startsWith('file://')) u = u.slice(7);
  if (u.startsWith(root)) u = u.slice(root.length + 1);
  return `${u}:${cf.lineNumber + 1}`;
}

function fileOf(cf: CallFrame, root: string): string {
  const w = where(cf, root);
  return w ? w.replace(/:\d+$/, '') : `(${cf.functionName || 'native'})`;
}

/** `window`: [from, to] in µs of CLOCK_MONOTONIC; samples outside are ignored. */
export function summarize(p: CpuProfile, root: string, window?: [number, number]): ProfileSummary {
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const n of p.nodes) {
    byId.set(n.id, n);
    for (const c of n.children ?? []) parent.set(c, n.id);
  }
  const key = (n: ProfileNode) => `${n.callFrame.functionName || '(anonymous)'}\u0000${where(n.callFrame, root)}`;
  const self = new Map<string, number>();
  const total = new Map<string, number>();
  const files = new Map<string, number>();
  let t = p.startTime;
  let sum = 0;
  let idle = 0;
  let gc = 0;
  let count = 0;
  for (let i = 0; i < p.samples.length; i++) {
    t += p.timeDeltas[i] ?? 0;
    // A sample's weight: the time until the next sample (the last one gets the previous delta).
    const w = (p.timeDeltas[i + 1] ?? p.timeDeltas[i] ?? 0) / 1000;
    if (window && (t < window[0] || t > window[1])) continue;
    const node = byId.get(p.samples[i]!);
    if (!node) continue;
    count++;
    sum += w;
    const fn = node.callFrame.functionName;
    if (fn === '(idle)') {
      idle += w;
      continue;
    }
    if (fn === '(garbage collector)') gc += w;
    const k = key(node);
    self.set(k, (self.get(k) ?? 0) + w);
    const f = fileOf(node.callFrame, root);
    files.set(f, (files.get(f) ?? 0) + w);
    // Total time: each function once per sample, however deep it recurses.
    const seen = new Set<string>();
    for (let id: number | undefined = node.id; id !== undefined; id = parent.get(id)) {
      const n = byId.get(id)!;
      if (n.callFrame.functionName === '(root)') break;
      const kk = key(n);
      if (seen.has(kk)) continue;
      seen.add(kk);
      total.set(kk, (total.get(kk) ?? 0) + w);
    }
  }
  const pct = (x: number) => (sum > 0 ? (100 * x) / sum : 0);
  const functions = [...self.entries()].map(([k, ms]) => {
    const [name, loc] = k.split('\u0000') as [string, string];
    const tot = total.get(k) ?? ms;
    return { name, where: loc, selfMs: ms, totalMs: tot, selfPct: pct(ms), totalPct: pct(tot) };
  }).sort((a, b) => b.selfMs - a.selfMs);
  // Functions that only appear as callers (no self time) still matter for total time.
  for (const [k, tot] of total) {
    if (self.has(k)) continue;
    const [name, loc] = k.split('\u0000') as [string, string];
    functions.push({ name, where: loc, selfMs: 0, totalMs: tot, selfPct: 0, totalPct: pct(tot) });
  }
  return {
    windowMs: sum,
    samples: count,
    idlePct: pct(idle),
    gcPct: pct(gc),
    busyPct: pct(sum - idle),
    functions,
    files: [...files.entries()].map(([file, ms]) => ({ file, selfMs: ms, selfPct: pct(ms) })).sort((a, b) => b.selfMs - a.selfMs),
  };
}

export function printSummary(s: ProfileSummary, top: number, out: (line: string) => void, thread = 'the main thread'): void {
  out(`sampled ${(s.windowMs / 1000).toFixed(1)} s of ${thread} (${s.samples.toLocaleString('en-US')} samples): ` +
    `busy ${s.busyPct.toFixed(1)}%, idle ${s.idlePct.toFixed(1)}%, garbage collection ${s.gcPct.toFixed(1)}%`);
  out('');
  out(`top ${top} functions by self time (% of sampled time; "total" includes callees):`);
  out(`${'self%'.padStart(6)} ${'total%'.padStart(7)}  function  (location)`);
  for (const f of s.functions.filter((x) => x.selfMs > 0).slice(0, top)) {
    out(`${f.selfPct.toFixed(1).padStart(6)} ${f.totalPct.toFixed(1).padStart(7)}  ${f.name || '(anonymous)'}  ${f.where ? `(${f.where})` : ''}`);
  }
  out('');
  out(`top ${top} functions by total time, project code only:`);
  for (const f of s.functions.filter((x) => /^(src|bench)\//.test(x.where)).sort((a, b) => b.totalMs - a.totalMs).slice(0, top)) {
    out(`${f.totalPct.toFixed(1).padStart(6)}%  ${f.name || '(anonymous)'}  (${f.where})`);
  }
  out('');
  out('self time by file:');
  for (const f of s.files.slice(0, top)) out(`${f.selfPct.toFixed(1).padStart(6)}%  ${f.file}`);
}
