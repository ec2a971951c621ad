import { DatabaseSync } from 'node:sqlite';
import { parentPort } from 'node:worker_threads';
import type { FromWorker, ToWorker } from './wire.ts';
import { BatchWriter } from './batch-writer.ts';
import { decodeJournalRecord } from './journal.ts';

/**
 * The SQLite writer thread: commits what the main thread planned, on its own connection, so that commits, lock waits
 * and fsyncs never block the gateway's event loop. Either one batch per IMMEDIATE transaction (`fsync: true`: the
 * reply, after COMMIT returned, is what lets the main thread tell the gateway the events are durable), or, with the
 * write-ahead journal (journal.ts), many journaled batches per transaction, moved into the tables after the fact.
 *
 * The same file runs a second thread, the checkpointer: it copies the WAL back into the database (PASSIVE
 * checkpoints, which never wait for the writer nor make it wait) so that the copy and its fsyncs stay out of the
 * writer's commits. Should it fall behind, the writer checkpoints itself once the WAL reaches 64 MB.
 */

const port = parentPort!;
let writer: BatchWriter | null = null;
let db: DatabaseSync | null = null;
let timer: NodeJS.Timeout | null = null;

function reply(m: FromWorker): void {
  port.postMessage(m);
}

port.on('message', (m: ToWorker) => {
  switch (m.t) {
    case 'open':
      try {
        writer = new BatchWriter(m.path, { fsync: m.fsync, busyTimeout: m.busyTimeout });
        db = writer.db;
        reply({ t: 'opened' });
      } catch (err) {
        reply({ t: 'failed', id: 0, message: (err as Error).message });
      }
      break;
    case 'batch':
    case 'ingest':
      try {
        if (m.t === 'batch') writer!.write(m.batch);
        else writer!.writeMany(m.records.map((r) => decodeJournalRecord(r).batch), m.journal);
        reply({ t: 'done', id: m.id });
      } catch (err) {
        const e = err as Error & { code?: string; errstr?: string };
        reply({ t: 'failed', id: m.id, message: e.message, code: e.code });
      }
      break;
    case 'checkpointer':
      try {
        db = new DatabaseSync(m.path, { timeout: m.busyTimeout });
        db.exec('PRAGMA wal_autocheckpoint = 0');
        const checkpoint = db.prepare('PRAGMA wal_checkpoint(PASSIVE)');
        timer = setInterval(() => {
          try {
            checkpoint.get();
          } catch {
            // Busy or I/O error: the next round (or the writer's own checkpoint) will do it.
          }
        }, m.everyMs);
        reply({ t: 'opened' });
      } catch (err) {
        reply({ t: 'failed', id: 0, message: (err as Error).message });
      }
      break;
    case 'close':
      if (timer) clearInterval(timer);
      db?.close();
      db = null;
      reply({ t: 'closed' });
      break;
  }
});
