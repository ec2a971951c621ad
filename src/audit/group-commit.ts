/**
 * Group commit: everything queued while the event loop finishes its current turn (or while the previous batch is
 * being committed) is written in one transaction. `enqueue` resolves once the item's batch committed.
 *
 * The flush function returns one outcome per item (null: stored; an Error: that item alone was refused, e.g. a seq
 * that does not increase), directly or as a promise, or throws (rejects) when the batch as a whole failed, which
 * rejects every item of the batch and marks the queue unhealthy until a later batch succeeds. Nothing is retried
 * behind the caller's back: a rejected append is the caller's to handle (the gateway refuses the statement), so no
 * event is ever dropped silently.
 */
export type FlushFn<T> = (items: T[]) => Promise<(Error | null)[]> | (Error | null)[];

interface Waiter<T> {
  item: T;
  resolve: () => void;
  reject: (e: Error) => void;
}

export class GroupCommit<T> {
  readonly #flush: FlushFn<T>;
  readonly #maxBatch: number;
  #queue: Waiter<T>[] = [];
  #scheduled = false;
  #running = false;
  #idle: (() => void)[] = [];
  healthy = true;
  lastError: Error | null = null;
  /** Batches and items committed, for tests and metrics. */
  batches = 0;
  items = 0;

  constructor(flush: FlushFn<T>, maxBatch = 5000) {
    this.#flush = flush;
    this.#maxBatch = maxBatch;
  }

  get pending(): number {
    return this.#queue.length;
  }

  enqueue(item: T): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ item, resolve, reject });
      this.#schedule();
    });
  }

  #schedule(): void {
    if (this.#scheduled || this.#running) return;
    this.#scheduled = true;
    // setImmediate, not a microtask: it runs after the I/O callbacks of this loop turn, so appends made while
    // handling several sockets' data in one turn share a transaction.
    setImmediate(() => {
      this.#scheduled = false;
      void this.#run();
    });
  }

  async #run(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    try {
      while (this.#queue.length) {
        const batch = this.#queue.length <= this.#maxBatch ? this.#queue : this.#queue.slice(0, this.#maxBatch);
        this.#queue = batch === this.#queue ? [] : this.#queue.slice(this.#maxBatch);
        let outcome: (Error | null)[];
        try {
          // A flush that finished synchronously (the SQLite store's journal) settles its batch in this same turn.
          const r = this.#flush(batch.map((w) => w.item));
          outcome = Array.isArray(r) ? r : await r;
        } catch (err) {
          const e = err instanceof Error ? err : new Error(String(err));
          this.healthy = false;
          this.lastError = e;
          for (const w of batch) w.reject(e);
          continue;
        }
        this.healthy = true;
        this.lastError = null;
        this.batches++;
        this.items += batch.length;
        for (let i = 0; i < batch.length; i++) {
          const o = outcome[i];
          if (o) batch[i]!.reject(o);
          else batch[i]!.resolve();
        }
      }
    } finally {
      this.#running = false;
      if (this.#queue.length) this.#schedule();
      else for (const f of this.#idle.splice(0)) f();
    }
  }

  /** Resolves once everything queued so far has been committed or rejected. */
  drain(): Promise<void> {
    if (!this.#queue.length && !this.#running && !this.#scheduled) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }
}
