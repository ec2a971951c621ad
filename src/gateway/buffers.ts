/**
 * Memory the relay reuses instead of allocating per chunk. A Node socket allocates a fresh buffer for every read,
 * and V8 collects such external memory only after tens of megabytes have piled up: streaming a large result through
 * a gateway would grow its resident size by that much. Instead:
 * - plaintext upstream sockets read into one shared buffer (`onread`); whoever consumes a read copies what it keeps
 *   before returning (reads are handled one at a time on the event loop, so one buffer serves every socket);
 * - bytes sent to clients are copied into pooled blocks, returned to the pool when the socket has flushed them.
 */
import type { Socket } from 'node:net';

export const READ_BUFFER_SIZE = 64 * 1024;
const sharedRead = Buffer.allocUnsafe(READ_BUFFER_SIZE);

/** Where a socket's shared-buffer reads go; `early` keeps copies of reads made before `fn` is connected. */
export interface ReadSink {
  fn: ((chunk: Buffer) => boolean | void) | null;
  early?: Buffer[];
}

/** The `onread` option for net.connect: every read lands in the shared buffer and goes to `sink.fn`. */
export function sharedReadOption(sink: ReadSink): { buffer: () => Buffer; callback: (n: number, buf: Buffer) => boolean } {
  return {
    buffer: () => sharedRead,
    callback: (n, buf) => {
      if (!sink.fn) {
        (sink.early ??= []).push(Buffer.from(buf.subarray(0, n)));
        return true;
      }
      return sink.fn(buf.subarray(0, n)) !== false;
    },
  };
}

const BLOCK = 128 * 1024;
const MAX_POOLED = 128;
const pool: Buffer[] = [];

function take(): Buffer {
  return pool.pop() ?? Buffer.allocUnsafe(BLOCK);
}

function give(b: Buffer): void {
  if (pool.length < MAX_POOLED) pool.push(b);
}

/**
 * Writes `parts` to `socket` through pooled blocks (parts larger than a block are copied into their own buffer).
 * Returns what `socket.write` returned for the last piece: false means the socket's buffer is full.
 */
export function writeCopied(socket: Socket, parts: Buffer[]): boolean {
  let ok = true;
  let block: Buffer | null = null;
  let used = 0;
  const flush = () => {
    if (!block || used === 0) return;
    const b: Buffer = block;
    ok = socket.write(b.subarray(0, used), () => give(b));
    block = null;
    used = 0;
  };
  socket.cork();
  for (const p of parts) {
    if (p.length > BLOCK / 2) {
      flush();
      ok = socket.write(Buffer.from(p));
      continue;
    }
    if (block && used + p.length > BLOCK) flush();
    if (!block) block = take();
    p.copy(block, used);
    used += p.length;
  }
  flush();
  socket.uncork();
  return ok;
}
