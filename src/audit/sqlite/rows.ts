import type { SQLInputValue } from 'node:sqlite';

/** A row as node:sqlite returns it; BLOBs arrive as Uint8Array and are viewed as Buffers (no copy). */
export type Row = Record<string, SQLInputValue>;

export const buf = (v: unknown): Buffer => {
  const u = v as Uint8Array;
  return Buffer.from(u.buffer, u.byteOffset, u.byteLength);
};

export const bufOrNull = (v: unknown): Buffer | null => (v === null || v === undefined ? null : buf(v));

/** Lets the event loop run between two slices of synchronous SQLite work. */
export const breathe = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
