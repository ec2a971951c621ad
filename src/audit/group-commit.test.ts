import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GroupCommit, type FlushFn } from './group-commit.ts';

// The SQLite store's journal path flushes synchronously, the PostgreSQL store and the fsync path asynchronously:
// the queue must behave the same either way.
for (const mode of ['synchronous', 'asynchronous'] as const) {
  const flushing = <T>(f: (items: T[]) => (Error | null)[]): FlushFn<T> =>
    mode === 'synchronous' ? f : async (items) => {
      await new Promise((r) => setImmediate(r));
      return f(items);
    };

  test(`${mode} flush: appends of one turn share a batch, later ones wait for it and form the next`, async () => {
    const batches: number[][] = [];
    const q = new GroupCommit<number>(flushing((items) => {
      batches.push(items);
      return items.map(() => null);
    }));
    const first = [1, 2, 3].map((n) => q.enqueue(n));
    await Promise.all(first);
    const second = [4, 5].map((n) => q.enqueue(n));
    await Promise.all(second);
    assert.deepEqual(batches, [[1, 2, 3], [4, 5]]);
    assert.equal(q.batches, 2);
    assert.equal(q.items, 5);
    assert.equal(q.healthy, true);
  });

  test(`${mode} flush: an item refused alone fails alone`, async () => {
    const q = new GroupCommit<number>(flushing((items) => items.map((n) => (n === 2 ? new Error('seq 2 does not follow') : null))));
    const results = await Promise.allSettled([1, 2, 3].map((n) => q.enqueue(n)));
    assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled']);
    assert.match(((results[1] as PromiseRejectedResult).reason as Error).message, /seq 2/);
    assert.equal(q.healthy, true);
  });

  test(`${mode} flush: a failed batch rejects every item and marks the queue unhealthy until a batch succeeds`, async () => {
    let fail = true;
    const q = new GroupCommit<number>(flushing((items) => {
      if (fail) throw new Error('disk full');
      return items.map(() => null);
    }));
    const results = await Promise.allSettled([1, 2].map((n) => q.enqueue(n)));
    assert.deepEqual(results.map((r) => r.status), ['rejected', 'rejected']);
    assert.equal(q.healthy, false);
    assert.match(q.lastError!.message, /disk full/);
    fail = false;
    await q.enqueue(3);
    assert.equal(q.healthy, true);
    assert.equal(q.lastError, null);
    await q.drain();
  });

  test(`${mode} flush: items enqueued while a batch is being flushed are not lost`, async () => {
    const seen: number[] = [];
    const later: Promise<void>[] = [];
    const q = new GroupCommit<number>(flushing((items) => {
      seen.push(...items);
      // An appender woken by this batch appends again at once (a session's next statement).
      if (items.includes(1)) later.push(q.enqueue(10));
      return items.map(() => null);
    }));
    await q.enqueue(1);
    await Promise.all(later);
    await q.drain();
    assert.deepEqual(seen, [1, 10]);
  });
}
