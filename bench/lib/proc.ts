// What the kernel knows about a process: resident memory (now and peak), CPU time; and machine-wide CPU use, so a run
// can say how much of the machine something else took while it measured.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { readStat } from '../../src/procfs.ts';

const TICK = 100; // USER_HZ on Linux

function status(pid: number): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of readFileSync(`/proc/${pid}/status`, 'utf8').split('\n')) {
    const i = line.indexOf(':');
    if (i > 0) m.set(line.slice(0, i), line.slice(i + 1).trim());
  }
  return m;
}

const kb = (v: string | undefined) => (v ? Number(v.split(/\s+/)[0]) * 1024 : 0);

/** Resident set size, bytes. */
export function rss(pid: number): number {
  return kb(status(pid).get('VmRSS'));
}

/** Peak resident set size since start or since the last `resetPeak`, bytes. */
export function peakRss(pid: number): number {
  return kb(status(pid).get('VmHWM'));
}

/** Resets VmHWM to the current RSS (writing 5 to clear_refs; Linux only, same user or root). */
export function resetPeak(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/** CPU seconds (user + system) a process used; `children`: plus its waited-for children's. */
export function cpuSeconds(pid: number, children = false): number {
  try {
    const f = readStat(`/proc/${pid}/stat`).fields;
    // utime(11) stime(12) cutime(13) cstime(14)
    const own = Number(f[11]) + Number(f[12]);
    return (children ? own + Number(f[13]) + Number(f[14]) : own) / TICK;
  } catch {
    return 0;
  }
}

/** CPU seconds per thread of a process, by thread id, with the thread's name (`comm`: node's main thread, its
 * workers, the libuv pool "libuv-worker", V8's helpers…), and the part of them spent in the kernel (system calls,
 * and on loopback the receiving side of every TCP send). Threads that ended are missing. */
export function threadCpu(pid: number): Map<number, { name: string; seconds: number; system: number }> {
  const out = new Map<number, { name: string; seconds: number; system: number }>();
  let tids: string[] = [];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      const { name, fields: f } = readStat(`/proc/${pid}/task/${tid}/stat`);
      out.set(Number(tid), { name, seconds: (Number(f[11]) + Number(f[12])) / TICK, system: Number(f[12]) / TICK });
    } catch {
      // the thread ended meanwhile
    }
  }
  return out;
}

/** Machine-wide busy and total CPU seconds since boot (all cores). */
export function machineCpu(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: (total - idle) / TICK, total: total / TICK };
}

/**
 * Measures, over a stretch of time, how busy the machine was and how much of that was processes outside the
 * benchmark (other users of the machine): a figure to read next to each result.
 */
export class CpuWatch {
  private readonly pids: () => number[];
  private startMachine = machineCpu();
  private startOurs = 0;

  /** `pids`: the benchmark's long-lived processes (this process and its waited-for children are always counted). */
  constructor(pids: () => number[]) {
    this.pids = pids;
    this.start();
  }

  private ours(): number {
    return cpuSeconds(process.pid, true) + this.pids().reduce((a, p) => a + cpuSeconds(p), 0);
  }

  start(): void {
    this.startMachine = machineCpu();
    this.startOurs = this.ours();
  }

  /** Busy share of the machine and the share taken by others, both in % of all cores, since `start`. */
  stop(): { busyPct: number; foreignPct: number } {
    const m = machineCpu();
    const total = m.total - this.startMachine.total;
    const busy = m.busy - this.startMachine.busy;
    const ours = this.ours() - this.startOurs;
    if (total <= 0) return { busyPct: 0, foreignPct: 0 };
    return { busyPct: (100 * busy) / total, foreignPct: Math.max(0, (100 * (busy - ours)) / total) };
  }
}

export function loadAverage(): string {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
}

/**
 * How an idle CPU waits (Linux cpuidle): the driver, and for `haltpoll` (a KVM guest) how long a vCPU polls before it
 * halts. On a VM, a statement over one connection wakes halted vCPUs at every hop, and that costs far more than the
 * proxies' own work (docs/benchmarks.md, "Latency (one connection)"), so a run records it.
 */
export function cpuIdle(): string {
  const read = (path: string): string | null => {
    try {
      return readFileSync(path, 'utf8').trim();
    } catch {
      return null;
    }
  };
  const driver = read('/sys/devices/system/cpu/cpuidle/current_driver');
  if (driver === null || driver === 'none') return 'no cpuidle driver';
  const poll = driver === 'haltpoll' ? read('/sys/module/haltpoll/parameters/guest_halt_poll_ns') : null;
  return poll === null ? driver : `${driver}, guest_halt_poll_ns=${poll}`;
}
