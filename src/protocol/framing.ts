import { MAX_PACKET_PAYLOAD } from './constants.ts';
import { ProtocolError } from './errors.ts';

/**
 * Packet framing: 3-byte little-endian payload length, 1-byte sequence id, payload.
 *
 * The framer takes chunks as they arrive and yields packets without copying when a packet lies inside one chunk
 * (the common case: many rows per chunk). A packet that straddles chunks is assembled once, when all its bytes are
 * there, into a buffer of its own size: a 16 MiB packet arriving in 64 KiB pieces is copied once, and the chunks
 * around it are never copied. It knows nothing of sockets; the gateway feeds it.
 *
 * After `next()` returns true, the packet is described by fields rather than by a new object (the relay looks at
 * millions of row packets and only needs the length and first byte of most of them):
 *   `buf[start .. start+4+len)` is the raw packet, header included; `seq` its sequence id.
 */
export class PacketFramer {
  /** Buffer holding the current packet. */
  buf: Buffer = Buffer.alloc(0);
  /** Offset of the current packet's header in `buf`. */
  start = 0;
  /** Payload length of the current packet. */
  len = 0;
  /** Sequence id of the current packet. */
  seq = 0;

  private pos = 0;
  /** Memory of the last transient chunk, which `retain` must copy out of. */
  private transient: ArrayBufferLike | null = null;
  private readonly queue: Buffer[] = [];
  private queued = 0;
  private readonly maxPacket: number;

  /** `maxPacket`: the largest payload accepted (at most 16 MiB - 1, the protocol's own limit per packet). */
  constructor(maxPacket = MAX_PACKET_PAYLOAD) {
    this.maxPacket = maxPacket;
  }

  /**
   * Adds received bytes. `transient`: the chunk's memory will be reused once the caller returns (a shared read
   * buffer); the caller must then call `retain()` so the framer keeps its own copy of what it has not consumed.
   */
  push(chunk: Buffer, transient = false): void {
    if (chunk.length === 0) return;
    if (transient) this.transient = chunk.buffer;
    // Bytes already queued come first: a new chunk may only become current when nothing is waiting before it.
    if (this.pos >= this.buf.length && this.queue.length === 0) {
      this.buf = chunk;
      this.pos = 0;
    } else {
      this.queue.push(chunk);
      this.queued += chunk.length;
    }
  }

  /** Bytes received and not yet returned as packets. */
  get buffered(): number {
    return this.buf.length - this.pos + this.queued;
  }

  next(): boolean {
    for (;;) {
      const avail = this.buf.length - this.pos;
      if (avail >= 4) {
        const b = this.buf;
        const p = this.pos;
        const len = b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16);
        if (len > this.maxPacket) throw new ProtocolError(`packet of ${len} bytes exceeds the limit of ${this.maxPacket}`);
        if (avail >= 4 + len) {
          this.start = p;
          this.len = len;
          this.seq = b[p + 3]!;
          this.pos = p + 4 + len;
          return true;
        }
        // Incomplete: wait until the queue holds the rest, then assemble once.
        if (this.queued < 4 + len - avail) return false;
      } else if (this.queued === 0) {
        return false;
      }
      if (avail === 0) {
        this.buf = this.queue.shift()!;
        this.queued -= this.buf.length;
        this.pos = 0;
        continue;
      }
      // The packet (or its header) straddles chunks: copy exactly its bytes into a buffer of its own; the rest of the
      // chunk it ends in goes back to the front of the queue as a view, so the chunk itself is never copied.
      let need: number;
      if (avail >= 4) {
        need = 4 + (this.buf[this.pos]! | (this.buf[this.pos + 1]! << 8) | (this.buf[this.pos + 2]! << 16));
      } else {
        if (this.queued < 4 - avail) return false;
        need = 4;
      }
      const out = Buffer.allocUnsafe(need);
      this.buf.copy(out, 0, this.pos);
      let filled = avail;
      while (filled < need) {
        const c = this.queue[0]!;
        const take = Math.min(c.length, need - filled);
        c.copy(out, filled, 0, take);
        filled += take;
        this.queued -= take;
        if (take === c.length) this.queue.shift();
        else this.queue[0] = c.subarray(take);
      }
      this.buf = out;
      this.pos = 0;
    }
  }

  /** Copies what is left of a transient chunk (only the unconsumed bytes), before its memory is reused. */
  retain(): void {
    const t = this.transient;
    if (t === null) return;
    this.transient = null;
    if (this.buf.buffer === t) {
      this.buf = this.pos < this.buf.length ? Buffer.from(this.buf.subarray(this.pos)) : Buffer.alloc(0);
      this.pos = 0;
    }
    for (let i = 0; i < this.queue.length; i++) {
      if (this.queue[i]!.buffer === t) this.queue[i] = Buffer.from(this.queue[i]!);
    }
  }

  /** Removes and returns every byte not yet returned as a packet (when the byte stream changes hands, e.g. to TLS). */
  takeBuffered(): Buffer {
    const parts: Buffer[] = [];
    if (this.pos < this.buf.length) parts.push(this.buf.subarray(this.pos));
    parts.push(...this.queue);
    this.buf = Buffer.alloc(0);
    this.pos = 0;
    this.queue.length = 0;
    this.queued = 0;
    return Buffer.concat(parts);
  }

  /** The current packet's payload (a view). */
  payload(): Buffer {
    return this.buf.subarray(this.start + 4, this.start + 4 + this.len);
  }

  /** The current packet, header included (a view). */
  raw(): Buffer {
    return this.buf.subarray(this.start, this.start + 4 + this.len);
  }

  /** First payload byte of the current packet, or -1 when the payload is empty. */
  first(): number {
    return this.len > 0 ? this.buf[this.start + 4]! : -1;
  }
}

/**
 * Frames one logical payload as packets starting at `seq`, splitting at 16 MiB - 1 (a payload of exactly that size is
 * followed by an empty packet). Returns the bytes and the next sequence id.
 */
export function framePayload(payload: Buffer, seq: number): { bytes: Buffer; nextSeq: number } {
  if (payload.length < MAX_PACKET_PAYLOAD) {
    const out = Buffer.allocUnsafe(4 + payload.length);
    out[0] = payload.length & 0xff;
    out[1] = (payload.length >> 8) & 0xff;
    out[2] = (payload.length >> 16) & 0xff;
    out[3] = seq & 0xff;
    payload.copy(out, 4);
    return { bytes: out, nextSeq: (seq + 1) & 0xff };
  }
  const parts: Buffer[] = [];
  let off = 0;
  let s = seq;
  for (;;) {
    const n = Math.min(MAX_PACKET_PAYLOAD, payload.length - off);
    const h = Buffer.allocUnsafe(4);
    h[0] = n & 0xff;
    h[1] = (n >> 8) & 0xff;
    h[2] = (n >> 16) & 0xff;
    h[3] = s & 0xff;
    parts.push(h, payload.subarray(off, off + n));
    off += n;
    s = (s + 1) & 0xff;
    if (n < MAX_PACKET_PAYLOAD) break;
  }
  return { bytes: Buffer.concat(parts), nextSeq: s };
}

/**
 * Collects the packets of one logical message: a payload of exactly 16 MiB - 1 bytes continues in the next packet.
 * Used for client commands and for the server packets the gateway must decode whole (rows it masks, column
 * definitions). Sequence ids must follow each other.
 */
export class MessageAssembler {
  private parts: Buffer[] = [];
  private size = 0;
  private readonly limit: number;

  constructor(limit: number) {
    this.limit = limit;
  }

  get inProgress(): boolean {
    return this.parts.length > 0;
  }

  /** Adds one packet's payload; returns the whole message when this packet ends it, else null. */
  add(payload: Buffer): Buffer | null {
    this.size += payload.length;
    if (this.size > this.limit) {
      throw new ProtocolError(`message of more than ${this.limit} bytes exceeds the limit`);
    }
    if (payload.length === MAX_PACKET_PAYLOAD) {
      // Views stay valid: socket chunks are never reused once delivered.
      this.parts.push(payload);
      return null;
    }
    if (this.parts.length === 0) {
      this.size = 0;
      return payload;
    }
    this.parts.push(payload);
    const all = Buffer.concat(this.parts, this.size);
    this.parts = [];
    this.size = 0;
    return all;
  }

  reset(): void {
    this.parts = [];
    this.size = 0;
  }
}
