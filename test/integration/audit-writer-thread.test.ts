// The SQLite store's writer thread, as the operating system sees it: it yields the CPU to the gateway's event loop
// when nothing waits for it, and when it falls behind, appends wait for it rather than let its backlog grow.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { DatabaseSync } from 'node:sqlite';
import { openAuditStore } from '../../src/audit/index.ts';
import { selectEvent, sessionStart } from '../helpers/audit.ts';
import { eventually } from '../helpers/wait.ts';

const tmp = mkdtempSync(join(tmpdir(), 'agentgate-writer-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** This process's threads: name and nice value, by thread id (from /proc/self/task). */
function threads(): Map<string, { name: string; nice: number }> {
  const out = new Map<string, { name: string; nice: number }>();
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      // The name is in parentheses and may hold spaces; of the fields after it, nice is the 17th (the line's 19th).
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(tid, { name: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')), nice: Number(fields[16]) });
    } catch {
      // The thread ended meanwhile.
    }
  }
  return out;
}

/**
 * Opens a store and waits until the threads it started (those running after init that were not before) have the
 * nice values `expected` (a thread lowers its priority when it gets its first message); fails, with the values
 * seen last, when they do not within 10 s.
 */
async function expectStoreThreads(fsync: boolean, expected: number[]): Promise<void> {
  const before = threads();
  const s = openAuditStore(`sqlite:${join(tmp, `threads-${fsync}.db`)}`, { instanceId: 'gw-threads', fsync });
  await s.init();
  try {
    const want = JSON.stringify([...expected].sort((a, b) => a - b));
    let seen = '';
    await eventually(async () => {
      seen = JSON.stringify([...threads()].filter(([tid, t]) => !before.has(tid) && t.name === 'WorkerThread').map(([, t]) => t.nice).sort((a, b) => a - b));
      return seen === want;
    }, 10_000).catch(() => assert.fail(`the store's threads have nice values ${seen}, expected ${want}`));
  } finally {
    await s.close();
  }
}

test('the writer thread runs at a lower priority than the event loop, except for the commits statements wait for', { skip: process.platform !== 'linux' && 'needs /proc' }, async () => {
  const main = threads().get(String(process.pid))!.nice;
  const background = Math.min(19, main + 10);
  // Without fsync the journal acknowledges appends; the one thread moves them into the tables afterwards.
  await expectStoreThreads(false, [background]);
  // With fsync the writer thread's commits are what an append waits for: it keeps the event loop's priority, and
  // only the WAL checkpointer, a thread of its own, steps back.
  await expectStoreThreads(true, [main, background]);
});

test('appends wait for a writer thread that has fallen maxPendingBytes behind, and lose nothing', async () => {
  const path = join(tmp, 'backlog.db');
  const s = openAuditStore(`sqlite:${path}`, { instanceId: 'gw-backlog', maxPendingBytes: 4096, busyTimeout: 20_000 });
  await s.init();
  const locker = new DatabaseSync(path);
  try {
    await s.openSession(sessionStart('b-1'));
    await s.listSessions({});
    // Another connection holds the write lock: the writer thread's next move waits for it, as a slow disk or a
    // starved thread would keep it waiting.
    locker.exec('BEGIN EXCLUSIVE');
    locker.prepare('INSERT INTO keys (id, public_pem, created_at) VALUES (?, ?, ?)').run('lock', 'x', 'x');
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
    locker.exec('ROLLBACK');
    await stalled;
    assert.equal(s.healthy, true);
    assert.deepEqual((await s.getSession('b-1'))!.events.map((e) => e.seq), Array.from({ length: seq }, (_, i) => i + 1));
    assert.equal((await s.verify()).ok, true);
  } finally {
    if (locker.isTransaction) locker.exec('ROLLBACK');
    locker.close();
    await s.close();
  }
});
