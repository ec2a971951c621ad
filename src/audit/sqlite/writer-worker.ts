import { execFile } from 'node:child_process';
import { readlinkSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';
import { DatabaseSync } from 'node:sqlite';
import { parentPort } from 'node:worker_threads';
import { findChrt, readStat } from '../../procfs.ts';
import type { FromWorker, OpsBatch, ToWorker, JournaledPlan } from './wire.ts';
import { BatchWriter } from './batch-writer.ts';
import { journalRecords } from './journal.ts';

/**
 * The SQLite writer thread: plans the chain of what the main thread admitted (hashes, checkpoint signatures) and
 * commits it, on its own connection, so that neither the hashing nor commits, lock waits and fsyncs take the gateway's
 * event loop. Either one batch per IMMEDIATE transaction (`fsync: true`: the reply, after COMMIT returned, is what
 * lets the main thread tell the gateway the events are durable), or, with the write-ahead journal (journal.ts), many
 * journaled batches per transaction, moved into the tables after the fact.
 *
 * The checkpointer copies the WAL back into the database (PASSIVE checkpoints, which never wait for the writer nor
 * make it wait). With the journal it runs in this same thread, between moves (nothing waits for a move: a thread
 * fewer, some 25 MB less memory); with `fsync: true` in a second thread running this file, so that the copy and its
 * fsyncs stay out of the commits the gateway waits for. Should it fall behind, the writer checkpoints itself once
 * the WAL reaches 64 MB.
 *
 * Work nothing waits for (the moves, the checkpoints) runs at a lower scheduling priority than the gateway's event
 * loop, and yields the core to it at once (`runInBackground`); the commits of `fsync: true`, which statements wait for,
 * do not.
 */

const port = parentPort!;
let writer: BatchWriter | null = null;
/** The checkpointer's own connection (in the writer thread itself, or in a thread of its own). */
let checkpointDb: DatabaseSync | null = null;
let timer: NodeJS.Timeout | null = null;
/** Whether this is the writer thread (it was asked to open the writer, successfully or not). */
let isWriter = false;

/**
 * The batches of journal records, each decoded when the writer asks for it. The records are in memory the main
 * thread shares with this one and reuses once the move is answered: nothing may keep a view of them past it (the
 * writer binds them into its statements, which copy them).
 */
function* batchesOf(records: Uint8Array): Generator<OpsBatch | JournaledPlan> {
  for (const r of journalRecords(records)) yield r.batch;
}

function reply(m: FromWorker): void {
  port.postMessage(m);
}

/** How much nicer than the rest of the process a background thread runs (see `runInBackground`). */
const BACKGROUND_NICE = 10;

/** chrt, looked up once when the thread starts (see `setIdle`). */
const CHRT = findChrt();

/** This thread's id, once it runs in the background (see `runInBackground`). */
let backgroundTid = 0;
/** The scheduling policy this thread should have (true: SCHED_IDLE), and the one chrt last gave it. */
let wantIdle = false;
let isIdle = false;
let chrtRunning = false;
/** A move of at least this many bytes means the thread has fallen behind: it leaves SCHED_IDLE to catch up. */
let catchUpBytes = Number.POSITIVE_INFINITY;
/** So does a move still under way after this long: the thread is getting next to no CPU. */
const STARVED_MS = 250;
/** The normal scheduling policy, as /proc shows it. */
const SCHED_OTHER = 0;

/**
 * Makes this thread yield the CPU to the rest of the process (Linux only; elsewhere nothing). A move into the tables
 * takes a few milliseconds of CPU every 50 ms; at the same priority, on a machine whose cores are all busy (the
 * gateway, its clients, the database), the scheduler lets it run in place of the event loop that a client's statement
 * waits for, and that statement waits a whole time slice.
 *
 * Two steps, each best effort:
 * - nice +10 (setpriority() on Linux takes a thread id and changes that thread alone). The scheduler then gives the
 *   thread a tenth of a contended core, but lets it finish its time slice before a woken event loop runs: with a
 *   two-core machine under one connection's single-row SELECTs, about one statement in a hundred still waited 1 to 3
 *   ms for it.
 * - the SCHED_IDLE policy, through `chrt` (util-linux; Node has no call for it): a thread of any other policy that
 *   wakes up takes the core at once, and the idle thread runs on what the others leave. That may be almost nothing
 *   on a machine kept busy by other work, so a thread that has fallen behind (a move of `catchUpBytes` or more, or
 *   one still under way after STARVED_MS) goes back to the normal policy, still nice +10, until its moves are small
 *   again (`keepingUp`); beyond that, the store bounds the backlog (`maxPendingBytes`). A process that runs under
 *   another policy than the normal one (started with chrt, say) keeps it in this thread too: only the nice step.
 * Lowering one's own priority needs no privilege, nor does going back to the normal policy at the same nice value.
 */
function runInBackground(): void {
  if (process.platform !== 'linux') return;
  let policy: number;
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    setPriority(tid, Math.min(19, getPriority(tid) + BACKGROUND_NICE));
    policy = Number(readStat('/proc/thread-self/stat').fields[38]);
    backgroundTid = tid;
  } catch {
    // A thread at the normal priority is correct, only less kind to the event loop.
    return;
  }
  if (policy === SCHED_OTHER) setIdle(true);
  else backgroundTid = 0;
}

/** Before a move of `bytes`: out of SCHED_IDLE when it is a large one, back in once they are small again. */
function keepingUp(bytes: number): void {
  if (bytes >= catchUpBytes) setIdle(false);
  else if (bytes < catchUpBytes / 4) setIdle(true);
}

/** During a move begun at `started`: out of SCHED_IDLE when it has taken longer than STARVED_MS. */
function starved(started: number): void {
  if (isIdle && performance.now() - started > STARVED_MS) setIdle(false);
}

/**
 * Asks chrt for the policy (one chrt at a time, the last wish wins). Without chrt, or where a security profile
 * forbids the change, the nice value stays the only step; should a change back to the normal policy fail, the
 * store's bound on the backlog is what remains.
 */
function setIdle(idle: boolean): void {
  wantIdle = idle;
  if (!backgroundTid || !CHRT || chrtRunning || wantIdle === isIdle) return;
  chrtRunning = true;
  const target = wantIdle;
  execFile(CHRT, [target ? '--idle' : '--other', '--pid', '0', String(backgroundTid)], { timeout: 10_000 }, (err) => {
    chrtRunning = false;
    if (err) {
      backgroundTid = 0;
      return;
    }
    isIdle = target;
    setIdle(wantIdle);
  });
}

port.on('message', (m: ToWorker) => {
  switch (m.t) {
    case 'open':
      isWriter = true;
      try {
        writer = new BatchWriter(m.path, { fsync: m.fsync, busyTimeout: m.busyTimeout, signer: m.signer });
        catchUpBytes = m.catchUpBytes;
        // Without fsync, nothing waits for this thread: the journal acknowledges, and it moves batches afterwards.
        if (!m.fsync) runInBackground();
        reply({ t: 'opened' });
      } catch (err) {
        reply({ t: 'failed', id: 0, message: (err as Error).message });
      }
      break;
    case 'batch':
    case 'ingest':
      try {
        if (m.t === 'batch') {
          // Another process writing under the same stream name (two gateways sharing an instance id, with fsync)
          // took the positions planned: plan again from where the tables now stand.
          for (let attempt = 0; ; attempt++) {
            try {
              writer!.writeMany(batchesOf(m.records), null);
              break;
            } catch (err) {
              if (attempt < 5 && /UNIQUE constraint failed: (events\.stream, events\.position|checkpoints\.stream, checkpoints\.n)/.test((err as Error).message)) continue;
              throw err;
            }
          }
        } else {
          const started = performance.now();
          keepingUp(m.records.byteLength);
          writer!.writeMany(batchesOf(m.records), m.journal, () => starved(started));
        }
        reply({ t: 'done', id: m.id });
      } catch (err) {
        const e = err as Error & { code?: string; errstr?: string };
        reply({ t: 'failed', id: m.id, message: e.message, code: e.code });
      }
      break;
    case 'checkpointer':
      try {
        // In a thread of its own (with fsync): nothing waits for it. In the writer thread: that thread decided already.
        if (!isWriter) runInBackground();
        checkpointDb = new DatabaseSync(m.path, { timeout: m.busyTimeout });
        checkpointDb.exec('PRAGMA wal_autocheckpoint = 0');
        const checkpoint = checkpointDb.prepare('PRAGMA wal_checkpoint(PASSIVE)');
        timer = setInterval(() => {
          try {
            checkpoint.get();
          } catch {
            // Busy or I/O error: the next round (or the writer's own checkpoint) will do it.
          }
        }, m.everyMs);
        // In the writer thread, the timer must not keep it alive on its own.
        if (isWriter) timer.unref();
        else reply({ t: 'opened' });
      } catch (err) {
        if (!isWriter) reply({ t: 'failed', id: 0, message: (err as Error).message });
      }
      break;
    case 'close':
      if (timer) clearInterval(timer);
      checkpointDb?.close();
      checkpointDb = null;
      writer?.close();
      writer = null;
      reply({ t: 'closed' });
      break;
  }
});
