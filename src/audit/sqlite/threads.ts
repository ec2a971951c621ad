import { getCompileCacheDir } from 'node:module';
import { Worker } from 'node:worker_threads';
import type { ChainSigner, FromWorker, ToWorker } from './wire.ts';

/**
 * The main thread's side of the SQLite writer thread (writer-worker.ts; with fsync, also of the WAL checkpointer
 * thread): starting them, handing a batch over and waiting for its COMMIT, restarting the writer after it died,
 * closing them.
 */
export class WriterThreads {
  readonly #path: string;
  readonly #fsync: boolean;
  readonly #busyTimeout: number;
  readonly #catchUpBytes: number;
  readonly #signer: ChainSigner;
  #worker: Worker | null = null;
  #checkpointer: Worker | null = null;
  #workerReady: Promise<Worker> | null = null;
  readonly #inflight = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();
  #batchNo = 0;

  /**
   * catchUpBytes: a move this large means the writer thread has fallen behind (see writer-worker.ts); signer: what
   * the writer thread signs checkpoints with.
   */
  constructor(o: { path: string; fsync: boolean; busyTimeout: number; catchUpBytes: number; signer: ChainSigner }) {
    this.#path = o.path;
    this.#fsync = o.fsync;
    this.#busyTimeout = o.busyTimeout;
    this.#catchUpBytes = o.catchUpBytes;
    this.#signer = o.signer;
  }

  async start(): Promise<void> {
    await this.#startWorker();
    if (this.#fsync) this.#startCheckpointer();
  }

  /** Starts the writer thread (again, after it died) and opens its connection. */
  #startWorker(): Promise<Worker> {
    if (this.#workerReady) return this.#workerReady;
    const w = startThread();
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
    this.#post(w, { t: 'open', path: this.#path, fsync: this.#fsync, busyTimeout: this.#busyTimeout, catchUpBytes: this.#catchUpBytes, signer: this.#signer });
    // Without fsync nothing waits for the writer thread's commits (the journal acknowledges): it checkpoints too.
    if (!this.#fsync) this.#post(w, CHECKPOINTER(this.#path, this.#busyTimeout));
    return ready;
  }

  /** The WAL checkpointer thread (see writer-worker.ts). Best effort: without it the writer checkpoints itself. */
  #startCheckpointer(): void {
    const w = startThread();
    w.unref();
    w.on('error', () => {
      if (this.#checkpointer === w) this.#checkpointer = null;
    });
    this.#checkpointer = w;
    this.#post(w, CHECKPOINTER(this.#path, this.#busyTimeout));
  }

  #post(w: Worker, m: ToWorker): void {
    w.postMessage(m, m.t === 'batch' ? [m.records.buffer as ArrayBuffer] : []);
  }

  /**
   * Plans and commits one batch (its journal record, in memory of its own, which is handed over: the caller must not
   * use it again); resolves once COMMIT returned on the writer thread.
   */
  commit(records: Uint8Array): Promise<void> {
    return this.#send((id) => ({ t: 'batch', id, records }));
  }

  /**
   * Moves journaled batches (their journal records, one after the other in `records`) into the tables in one
   * transaction on the writer thread, recording the last batch number for the stream in the same transaction. Bytes in
   * shared memory (PendingRecords) are read where they are, others copied; either way the caller keeps them, to try
   * again after a failure, and must not change them before the promise settles. Rejects with SQLITE_BUSY when another
   * connection held the write lock for longer than the busy timeout.
   */
  ingest(records: Uint8Array, journal: { stream: number; batch: number }): Promise<void> {
    return this.#send((id) => ({ t: 'ingest', id, records, journal }));
  }

  async #send(make: (id: number) => ToWorker): Promise<void> {
    const w = await this.#startWorker();
    const id = ++this.#batchNo;
    // Keep the process alive while a batch is being committed (the thread is unref'd when idle).
    w.ref();
    await new Promise<void>((resolveBatch, rejectBatch) => {
      this.#inflight.set(id, { resolve: resolveBatch, reject: rejectBatch });
      this.#post(w, make(id));
    });
  }

  /** Closes the connections and stops both threads. */
  async close(): Promise<void> {
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

const WRITER = new URL('./writer-worker.ts', import.meta.url);

/**
 * Starts a thread running writer-worker.ts. A worker does not share its parent's compile cache: left alone it strips
 * the module's types itself and loads Node's type stripper to do so, about 20 MB of the gateway at rest. When this
 * thread has the cache on (bin/agentgate.js turns it on), the worker turns on the same cache before it loads the
 * module, and from the second start on loads it already stripped.
 */
function startThread(): Worker {
  const cacheDir = getCompileCacheDir();
  if (cacheDir === undefined) return new Worker(WRITER, { execArgv: workerExecArgv() });
  const boot = `require('node:module').enableCompileCache(${JSON.stringify(cacheDir)}); import(${JSON.stringify(WRITER.href)});`;
  return new Worker(boot, { eval: true, execArgv: workerExecArgv() });
}

const CHECKPOINTER = (path: string, busyTimeout: number): ToWorker => ({ t: 'checkpointer', path, busyTimeout, everyMs: 500 });

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
