import { ProtocolError } from './errors.ts';

/**
 * Bounds-checked reading of one packet payload. Every read checks the remaining length first and throws a
 * ProtocolError naming what was being read: bytes from an untrusted client never index past the buffer.
 */
export class Reader {
  readonly buf: Buffer;
  pos: number;
  readonly end: number;

  constructor(buf: Buffer, pos = 0, end = buf.length) {
    this.buf = buf;
    this.pos = pos;
    this.end = end;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  atEnd(): boolean {
    return this.pos >= this.end;
  }

  private need(n: number, what: string): void {
    if (this.end - this.pos < n) {
      throw new ProtocolError(`truncated packet: ${what} needs ${n} bytes, ${this.end - this.pos} left`);
    }
  }

  u8(what = 'byte'): number {
    this.need(1, what);
    return this.buf[this.pos++]!;
  }

  u16(what = 'uint16'): number {
    this.need(2, what);
    const v = this.buf.readUInt16LE(this.pos);
    this.pos += 2;
    return v;
  }

  u24(what = 'uint24'): number {
    this.need(3, what);
    const v = this.buf.readUIntLE(this.pos, 3);
    this.pos += 3;
    return v;
  }

  u32(what = 'uint32'): number {
    this.need(4, what);
    const v = this.buf.readUInt32LE(this.pos);
    this.pos += 4;
    return v;
  }

  u64(what = 'uint64'): bigint {
    this.need(8, what);
    const v = this.buf.readBigUInt64LE(this.pos);
    this.pos += 8;
    return v;
  }

  skip(n: number, what = 'filler'): void {
    this.need(n, what);
    this.pos += n;
  }

  bytes(n: number, what = 'bytes'): Buffer {
    this.need(n, what);
    const v = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }

  rest(): Buffer {
    const v = this.buf.subarray(this.pos, this.end);
    this.pos = this.end;
    return v;
  }

  /** NUL-terminated string; a missing terminator is an error (`lenient`: the rest of the packet). */
  nulBytes(what = 'string', lenient = false): Buffer {
    const i = this.buf.indexOf(0, this.pos);
    if (i < 0 || i >= this.end) {
      if (lenient) return this.rest();
      throw new ProtocolError(`truncated packet: ${what} has no terminating NUL`);
    }
    const v = this.buf.subarray(this.pos, i);
    this.pos = i + 1;
    return v;
  }

  nulString(what = 'string', lenient = false): string {
    return this.nulBytes(what, lenient).toString('utf8');
  }

  /**
   * Length-encoded integer. Returns a number; values above 2^53 (never legitimate for lengths here) are an error.
   * 0xfb (NULL) is only valid in rows and is handled by the row decoders, not here.
   */
  lenenc(what = 'length-encoded integer'): number {
    const first = this.u8(what);
    if (first < 0xfb) return first;
    if (first === 0xfc) return this.u16(what);
    if (first === 0xfd) return this.u24(what);
    if (first === 0xfe) {
      const v = this.u64(what);
      if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new ProtocolError(`${what} is too large`);
      return Number(v);
    }
    throw new ProtocolError(`invalid length-encoded integer prefix 0x${first.toString(16)} in ${what}`);
  }

  /** Length-encoded integer kept exact (affected rows, insert ids may exceed 2^53). */
  lenencBig(what = 'length-encoded integer'): bigint {
    const first = this.u8(what);
    if (first < 0xfb) return BigInt(first);
    if (first === 0xfc) return BigInt(this.u16(what));
    if (first === 0xfd) return BigInt(this.u24(what));
    if (first === 0xfe) return this.u64(what);
    throw new ProtocolError(`invalid length-encoded integer prefix 0x${first.toString(16)} in ${what}`);
  }

  lenencBytes(what = 'length-encoded string'): Buffer {
    const n = this.lenenc(what);
    return this.bytes(n, what);
  }

  lenencString(what = 'length-encoded string'): string {
    return this.lenencBytes(what).toString('utf8');
  }
}

/** Size of a length-encoded integer. */
export function lenencSize(n: number): number {
  if (n < 0xfb) return 1;
  if (n < 0x10000) return 3;
  if (n < 0x1000000) return 4;
  return 9;
}

/**
 * Builds one payload. Grows geometrically; each connection or call owns its writer (no shared module buffers).
 */
export class Writer {
  private buf: Buffer;
  pos = 0;

  constructor(size = 256) {
    this.buf = Buffer.allocUnsafe(size);
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  u8(v: number): this {
    this.ensure(1);
    this.buf[this.pos++] = v & 0xff;
    return this;
  }

  u16(v: number): this {
    this.ensure(2);
    this.buf.writeUInt16LE(v & 0xffff, this.pos);
    this.pos += 2;
    return this;
  }

  u24(v: number): this {
    this.ensure(3);
    this.buf.writeUIntLE(v & 0xffffff, this.pos, 3);
    this.pos += 3;
    return this;
  }

  u32(v: number): this {
    this.ensure(4);
    this.buf.writeUInt32LE(v >>> 0, this.pos);
    this.pos += 4;
    return this;
  }

  u64(v: bigint): this {
    this.ensure(8);
    this.buf.writeBigUInt64LE(v, this.pos);
    this.pos += 8;
    return this;
  }

  zeros(n: number): this {
    this.ensure(n);
    this.buf.fill(0, this.pos, this.pos + n);
    this.pos += n;
    return this;
  }

  bytes(b: Uint8Array): this {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
    return this;
  }

  str(s: string): this {
    const n = Buffer.byteLength(s);
    this.ensure(n);
    this.buf.write(s, this.pos, 'utf8');
    this.pos += n;
    return this;
  }

  nulStr(s: string): this {
    return this.str(s).u8(0);
  }

  lenenc(n: number | bigint): this {
    if (typeof n === 'bigint') {
      if (n < 0xfbn) return this.u8(Number(n));
      if (n < 0x10000n) return this.u8(0xfc).u16(Number(n));
      if (n < 0x1000000n) return this.u8(0xfd).u24(Number(n));
      return this.u8(0xfe).u64(n);
    }
    if (n < 0xfb) return this.u8(n);
    if (n < 0x10000) return this.u8(0xfc).u16(n);
    if (n < 0x1000000) return this.u8(0xfd).u24(n);
    return this.u8(0xfe).u64(BigInt(n));
  }

  lenencBytes(b: Uint8Array): this {
    return this.lenenc(b.length).bytes(b);
  }

  lenencStr(s: string): this {
    return this.lenencBytes(Buffer.from(s, 'utf8'));
  }

  /** The payload written so far (a copy-free view; do not keep writing afterwards). */
  finish(): Buffer {
    return this.buf.subarray(0, this.pos);
  }
}
