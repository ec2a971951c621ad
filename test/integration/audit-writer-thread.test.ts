// The SQLite store's writer thread, as the operating system sees it: it yields the CPU to the gateway's event loop
// when nothing waits for it, steps forward again when it falls behind, and when it falls far behind, appends wait for
// it rather than let its backlog grow.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { DatabaseSync } from 'node:sqlite';
import { openAuditStore } from '../../src/audit/index.ts';
import { findChrt, readStat } from '../../src/procfs.ts';
import type { AuditStore, AuditStoreOptions } from '../../src/audit/types.ts';
import { selectEvent, sessionStart } from '../helpers/audit.ts';
import { eventually } from '../helpers/wait.ts';

const tmp = mkdtempSync(join(tmpdir(), 'agentgate-writer-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** Scheduling policies as /proc shows them (sched.h). */
const SCHED_OTHER = 0;
const SCHED_IDLE = 5;
/** The writer thread moves itself to SCHED_IDLE with chrt, when the system has it. */
const BACKGROUND_POLICY = findChrt() ? SCHED_IDLE : SCHED_OTHER;

interface ThreadInfo {
  name: string;
  nice: number;
  policy: number;
}

/** This process's threads: name, nice value and scheduling policy, by thread id (from /proc/self/task). */
function threads(): Map<string, ThreadInfo> {
  const out = new Map<string, ThreadInfo>();
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      const { name, fields } = readStat(`/proc/self/task/${tid}/stat`);
      out.set(tid, { name, nice: Number(fields[16]), policy: Number(fields[38]) });
    } catch {
      // The thread ended meanwhile.
    }
  }
  return out;
}

/** The threads a store started: those named WorkerThread now that were not running at `before`. */
function newWorkers(before: Map<string, ThreadInfo>): ThreadInfo[] {
  return [...threads()].filter(([tid, t]) => !before.has(tid) && t.name === 'WorkerThread').map(([, t]) => t);
}

/** Waits until `see()` returns `want` (compared as JSON); fails with the value seen last when it does not within 10 s. */
async function expectSoon(what: string, see: () => unknown, want: unknown): Promise<void> {
  let seen = '';
  await eventually(async () => {
    seen = JSON.stringify(see());
    return seen === JSON.stringify(want);
  }, 10_000).catch(() => assert.fail(`${what}: ${seen}, expected ${JSON.stringify(want)}`));
}

/**
 * Opens a store and waits until the threads it started have the nice values and policies `expected`, as
 * "nice/policy" (a thread lowers its priority when it gets its first message).
 */
async function expectStoreThreads(fsync: boolean, expected: string[]): Promise<void> {
  const before = threads();
  const s = openAuditStore(`sqlite:${join(tmp, `threads-${fsync}.db`)}`, { instanceId: 'gw-threads', fsync });
  await s.init();
  try {
    await expectSoon("the store's threads (nice/policy)", () => newWorkers(before).map((t) => `${t.nice}/${t.policy}`).sort(), [...expected].sort());
  } finally {
    await s.close();
  }
}

test('the writer thread runs at a lower priority than the event loop, except for the commits statements wait for', { skip: process.platform !== 'linux' && 'needs /proc' }, async () => {
  const main = threads().get(String(process.pid))!;
  const normal = `${main.nice}/${main.policy}`;
  const background = `${Math.min(19, main.nice + 10)}/${BACKGROUND_POLICY}`;
  // Without fsync the journal acknowledges appends; the one thread moves them into the tables afterwards.
  await expectStoreThreads(false, [background]);
  // With fsync the writer thread's commits are what an append waits for: it keeps the event loop's priority, and
  // only the WAL checkpointer, a thread of its own, steps back.
  await expectStoreThreads(true, [normal, background]);
});

/** Another connection on the store's file, which can hold the write lock the writer thread's moves need. */
interface Locker {
  /** Takes the write lock: the writer thread's next move waits for it, as a slow disk or a starved thread would. */
  hold(): void;
  release(): void;
}

/**
 * A store on a fresh file (`name`.db) with session `session` open and in the tables, the writer thread's policy
 * function (for tests that need chrt), and a Locker on the same file; closes both afterwards.
 */
async function withStore(
  name: string, o: Partial<AuditStoreOptions>, session: string,
  run: (s: AuditStore, locker: Locker, policies: () => number[]) => Promise<void>,
): Promise<void> {
  const path = join(tmp, `${name}.db`);
  const before = threads();
  const s = openAuditStore(`sqlite:${path}`, { instanceId: `gw-${name}`, busyTimeout: 20_000, ...o });
  await s.init();
  const db = new DatabaseSync(path);
  const locker: Locker = {
    hold() {
      db.exec('BEGIN EXCLUSIVE');
      db.prepare('INSERT INTO keys (id, public_pem, created_at) VALUES (?, ?, ?)').run('lock', 'x', 'x');
    },
    release() {
      db.exec('ROLLBACK');
    },
  };
  try {
    await s.openSession(sessionStart(session));
    await s.listSessions({});
    await run(s, locker, () => newWorkers(before).map((t) => t.policy));
  } finally {
    if (db.isTransaction) db.exec('ROLLBACK');
    db.close();
    await s.close();
  }
}

const needsChrt = { skip: (process.platform !== 'linux' && 'needs /proc') || (BACKGROUND_POLICY !== SCHED_IDLE && 'needs chrt') };

test('a writer thread that falls behind leaves SCHED_IDLE until it has caught up', needsChrt, async () => {
  // Behind: a move of a quarter of maxPendingBytes (8 KiB) or more.
  await withStore('catch-up', { maxPendingBytes: 32 * 1024 }, 'c-1', async (s, locker, policies) => {
    await expectSoon('policy of the writer thread at rest', policies, [SCHED_IDLE]);
    // Another connection holds the write lock while some 20 KB are appended, in one go: the next move carries
    // them all, and waits for the lock.
    locker.hold();
    const big = Array.from({ length: 40 }, (_, i) => s.append(selectEvent('c-1', i + 1)));
    await Promise.all(big);
    await expectSoon('policy of the writer thread moving a large backlog', policies, [SCHED_OTHER]);
    locker.release();
    await s.listSessions({});
    // Small moves again: back to the background.
    await s.append(selectEvent('c-1', 41));
    await s.listSessions({});
    await expectSoon('policy of the writer thread after a small move', policies, [SCHED_IDLE]);
    assert.equal((await s.getSession('c-1'))!.events.length, 41);
  });
});

test('a move that takes long, as it does for a thread that gets next to no CPU, leaves SCHED_IDLE too', needsChrt, async () => {
  await withStore('slow-move', {}, 'd-1', async (s, locker, policies) => {
    await expectSoon('policy of the writer thread at rest', policies, [SCHED_IDLE]);
    // A small move, held up for half a second by another connection's lock: long, though not large.
    locker.hold();
    await s.append(selectEvent('d-1', 1));
    await new Promise((r) => setTimeout(r, 500));
    locker.release();
    await expectSoon('policy of the writer thread after a long move', policies, [SCHED_OTHER]);
    await s.append(selectEvent('d-1', 2));
    await s.listSessions({});
    await expectSoon('policy of the writer thread after a short move', policies, [SCHED_IDLE]);
  });
});

test('appends wait for a writer thread that has fallen maxPendingBytes behind, and lose nothing', async () => {
  await withStore('backlog', { maxPendingBytes: 4096 }, 'b-1', async (s, locker) => {
    locker.hold();
    let stalled: Promise<void> | null = null;
    let seq = 0;
    const quick: number[] = [];
    while (seq < 200) {
      const p = s.append(selectEvent('b-1', ++seq));
      const settled = await Promise.race([p.then(() => true), new Promise<false>((r) => setTimeout(() => r(false), 1000))]);
      if (!settled) {
        stalled = p;
        break;
      }
      quick.push(seq);
    }
    // The first appends are acknowledged by the journal at once; one of them, a few KB later, has to wait.
    assert.ok(stalled, 'every append was acknowledged while the writer thread could not move anything');
    assert.ok(quick.length >= 2, `only ${quick.length} appends were acknowledged before the backlog limit`);
    let done = false;
    void stalled.then(() => { done = true; });
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(done, false, 'the append went through while the writer thread was still blocked');
    locker.release();
    await stalled;
    assert.equal(s.healthy, true);
    assert.deepEqual((await s.getSession('b-1'))!.events.map((e) => e.seq), Array.from({ length: seq }, (_, i) => i + 1));
    assert.equal((await s.verify()).ok, true);
  });
});
