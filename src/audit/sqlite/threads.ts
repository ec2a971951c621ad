import { Worker } from 'node:worker_threads';
import { transferables, type FromWorker, type ToWorker, type WireBatch } from './wire.ts';
import { BatchWriter } from './batch-writer.ts';

/**
 * The main thread's side of the SQLite writer thread and WAL checkpointer thread (writer-worker.ts): starting them,
 * handing a batch over and waiting for its COMMIT, restarting the writer after it died, closing both.
 */
export class WriterThreads {
  readonly #path: string;
  readonly #fsync: boolean;
  readonly #busyTimeout: number;
  #worker: Worker | null = null;
  #checkpointer: Worker | null = null;
  #workerReady: Promise<Worker> | null = null;
  readonly #inflight = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();
  #batchNo = 0;
  /** Commits on this thread (no fsync per commit): a write into the WAL, without the latency of a thread hop. */
  #inline: BatchWriter | null = null;

  constructor(o: { path: string; fsync: boolean; busyTimeout: number }) {
    this.#path = o.path;
    this.#fsync = o.fsync;
    this.#busyTimeout = o.busyTimeout;
  }

  async start(): Promise<void> {
    await this.#startWorker();
    // Never wait for a lock on this thread: a busy database (another process writing) sends the batch to the writer
    // thread, which waits for it there.
    if (!this.#fsync) this.#inline = new BatchWriter(this.#path, { fsync: false, busyTimeout: 0 });
    this.#startCheckpointer();
  }

  /** Starts the writer thread (again, after it died) and opens its connection. */
  #startWorker(): Promise<Worker> {
    if (this.#workerReady) return this.#workerReady;
    const w = new Worker(new URL('./writer-worker.ts', import.meta.url), { execArgv: workerExecArgv() });
    w.unref();
    const fail = (e: Error) => {
      if (this.#worker === w || this.#workerReady === ready) {
        this.#worker = null;
        this.#workerReady = null;
      }
      for (const p of this.#inflight.values()) p.reject(e);
      this.#inflight.clear();
    };
    const ready = new Promise<Worker>((resolveReady, rejectReady) => {
      w.on('message', (m: FromWorker) => {
        switch (m.t) {
          case 'opened':
            this.#worker = w;
            resolveReady(w);
            break;
          case 'done':
          case 'failed': {
            if (m.id === 0) {
              rejectReady(new Error(m.t === 'failed' ? m.message : 'the audit writer thread did not open'));
              break;
            }
            const p = this.#inflight.get(m.id);
            this.#inflight.delete(m.id);
            if (!this.#inflight.size) w.unref();
            if (m.t === 'done') p?.resolve();
            else p?.reject(Object.assign(new Error(m.message), { code: m.code }));
            break;
          }
        }
      });
      w.on('error', (e) => {
        rejectReady(e);
        fail(e);
      });
      w.on('exit', (code) => {
        const e = new Error(`the audit writer thread stopped (exit ${code})`);
        rejectReady(e);
        fail(e);
      });
    });
    this.#workerReady = ready;
    this.#post(w, { t: 'open', path: this.#path, fsync: this.#fsync, busyTimeout: this.#busyTimeout });
    return ready;
  }

  /** The WAL checkpointer thread (see writer-worker.ts). Best effort: without it the writer checkpoints itself. */
  #startCheckpointer(): void {
    const w = new Worker(new URL('./writer-worker.ts', import.meta.url), { execArgv: workerExecArgv() });
    w.unref();
    w.on('error', () => {
      if (this.#checkpointer === w) this.#checkpointer = null;
    });
    this.#checkpointer = w;
    this.#post(w, { t: 'checkpointer', path: this.#path, busyTimeout: this.#busyTimeout, everyMs: 500 });
  }

  #post(w: Worker, m: ToWorker): void {
    w.postMessage(m, m.t === 'batch' ? transferables(m.batch) : []);
  }

  /** Commits one batch; resolves once COMMIT returned (here, or on the writer thread). */
  async commit(batch: WireBatch): Promise<void> {
    if (this.#inline) {
      try {
        this.#inline.write(batch);
        return;
      } catch (err) {
        if (!/SQLITE_BUSY|database is locked/i.test(`${(err as { code?: string }).code ?? ''} ${(err as Error).message}`)) throw err;
        // Locked by another connection: the writer thread waits for the lock instead of this event loop.
      }
    }
    const w = await this.#startWorker();
    const id = ++this.#batchNo;
    // Keep the process alive while a batch is being committed (the thread is unref'd when idle).
    w.ref();
    await new Promise<void>((resolveBatch, rejectBatch) => {
      this.#inflight.set(id, { resolve: resolveBatch, reject: rejectBatch });
      this.#post(w, { t: 'batch', id, batch });
    });
  }

  /** Whether batches can be moved into the tables on this thread (the journal is only used then). */
  get inline(): boolean {
    return this.#inline !== null;
  }

  /**
   * Moves journaled batches into the tables in one transaction, recording the last batch number. Throws SQLITE_BUSY
   * at once when another connection holds the write lock (the caller tries again shortly).
   */
  ingest(batches: readonly WireBatch[], journal: { stream: number; batch: number }): void {
    this.#inline!.writeMany(batches, journal);
  }

  /** The number of the last journal batch already in the tables for this stream. */
  journalBatch(stream: number): number {
    return this.#inline!.journalBatch(stream);
  }

  /** Closes the connections and stops both threads. */
  async close(): Promise<void> {
    this.#inline?.close();
    this.#inline = null;
    const threads = [this.#checkpointer, this.#worker];
    this.#checkpointer = null;
    this.#worker = null;
    this.#workerReady = null;
    for (const w of threads) {
      if (!w) continue;
      w.ref();
      await new Promise<void>((resolveClose) => {
        w.once('message', () => resolveClose());
        w.once('exit', () => resolveClose());
        this.#post(w, { t: 'close' });
      });
      await w.terminate();
    }
  }
}

/**
 * A worker inherits the parent's Node options, but refuses those that only make sense for a main script given inline
 * (-e, --input-type): when there are any, pass the others explicitly; otherwise keep the default.
 */
function workerExecArgv(): string[] | undefined {
  const a = process.execArgv;
  if (!a.some((x) => /^(-e|-p|--eval|--print|--input-type)(=|$)/.test(x))) return undefined;
  const out: string[] = [];
  for (let i = 0; i < a.length; i++) {
    if (a[i] === '-e' || a[i] === '--eval' || a[i] === '-p' || a[i] === '--print') i++;
    else if (!a[i]!.startsWith('--input-type') && !a[i]!.startsWith('--eval=') && !a[i]!.startsWith('--print=')) out.push(a[i]!);
  }
  return out;
}
