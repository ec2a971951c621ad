import type { Socket } from 'node:net';
import { PacketFramer, MessageAssembler, framePayload } from '../protocol/framing.ts';
import { writeCopied, type ReadSink } from './buffers.ts';
import { ProtocolError } from '../protocol/errors.ts';

/** A whole logical message (packets of 16 MiB - 1 joined), with the sequence ids it spanned. */
export interface Message {
  payload: Buffer;
  /** Sequence id of its first packet. */
  seq: number;
  /** Sequence id the reply should use. */
  nextSeq: number;
  /** The packets as received, header included, for forwarding unchanged. */
  raw: Buffer[];
}

export class ConnectionClosed extends Error {
  constructor(message = 'connection closed') {
    super(message);
    this.name = 'ConnectionClosed';
  }
}

/** How many received-but-unread bytes make us stop reading from the socket until the reader catches up. */
const HIGH_WATER = 4 * 1024 * 1024;

/**
 * A socket speaking MySQL packets. Two ways to consume what arrives:
 * - pull (`readMessage`): the handshake and the command loop, one message at a time;
 * - stream (`stream(fn)`): the response relay, where `fn` is called synchronously on every chunk and drains the
 *   framer itself (no promise per row).
 * Unread bytes wait in the framer; the socket is paused while too many are waiting (backpressure).
 */
export class PacketConn {
  socket: Socket;
  readonly framer: PacketFramer;
  closed = false;
  closeReason: string | null = null;
  private waiter: { resolve: () => void; reject: (e: Error) => void } | null = null;
  private streamFn: (() => void) | null = null;
  private error: Error | null = null;
  private readonly assembler: MessageAssembler;
  private drainWaiters: (() => void)[] = [];
  private onData = (chunk: Buffer) => this.receive(chunk);
  private onClose = () => this.fail(new ConnectionClosed(this.closeReason ?? 'connection closed by peer'));
  private onError = (e: Error) => {
    this.closeReason = e.message;
    this.fail(new ConnectionClosed(e.message));
  };
  private onDrain = () => {
    const ws = this.drainWaiters;
    this.drainWaiters = [];
    for (const w of ws) w();
  };

  /**
   * True when reads land in the shared read buffer (see buffers.ts): packets handed out are then valid only until
   * the stream callback returns, and whatever must outlive it is copied (`keep`, `writeOut`).
   */
  readonly transient: boolean;

  /**
   * `sharedReads`: the socket was created with the shared-buffer `onread` option; connect its sink here.
   */
  constructor(socket: Socket, maxMessage: number, sharedReads?: ReadSink) {
    this.socket = socket;
    this.framer = new PacketFramer();
    this.assembler = new MessageAssembler(maxMessage);
    this.transient = sharedReads !== undefined;
    this.attach(socket);
    if (sharedReads) {
      sharedReads.fn = (chunk) => this.receiveTransient(chunk);
      for (const c of sharedReads.early?.splice(0) ?? []) this.receive(c);
    }
  }

  /** A view from this connection's reads that must outlive the current callback. */
  keep(b: Buffer): Buffer {
    return this.transient ? Buffer.from(b) : b;
  }

  /**
   * Sends views of this connection's reads to `to`: copied through pooled blocks when they are transient, written
   * as they are otherwise. Returns false when `to` is full.
   */
  writeOut(to: PacketConn, parts: Buffer[]): boolean {
    if (to.closed || parts.length === 0) return !to.closed;
    if (this.transient) return writeCopied(to.socket, parts);
    return to.writev(parts);
  }

  private receiveTransient(chunk: Buffer): boolean {
    if (this.streamFn) {
      this.framer.push(chunk, true);
      this.streamFn();
      this.framer.retain();
    } else {
      this.receive(Buffer.from(chunk));
    }
    return !this.socket.isPaused();
  }

  private attach(s: Socket): void {
    s.on('data', this.onData);
    s.on('close', this.onClose);
    s.on('error', this.onError);
    s.on('drain', this.onDrain);
  }

  private detach(s: Socket): void {
    s.off('data', this.onData);
    s.off('close', this.onClose);
    s.off('error', this.onError);
    s.off('drain', this.onDrain);
  }

  /**
   * Hands the socket to a wrapper (TLS). Pauses the raw socket first and gives back any bytes already received but
   * not consumed (the start of the TLS handshake often arrives with the request to start it), so nothing is lost.
   */
  detachForUpgrade(): Socket {
    const s = this.socket;
    s.pause();
    this.detach(s);
    const leftover = this.framer.takeBuffered();
    if (leftover.length > 0) s.unshift(leftover);
    return s;
  }

  /** Continues on the upgraded (TLS) socket. */
  reattach(s: Socket): void {
    this.socket = s;
    this.attach(s);
    s.resume();
  }

  private receive(chunk: Buffer): void {
    this.framer.push(chunk);
    if (this.streamFn) {
      this.streamFn();
      return;
    }
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = null;
      w.resolve();
    } else if (this.framer.buffered > HIGH_WATER) {
      this.socket.pause();
    }
  }

  private fail(e: Error): void {
    if (this.closed) return;
    this.closed = true;
    this.error = e;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = null;
      w.reject(e);
    }
    const ws = this.drainWaiters;
    this.drainWaiters = [];
    for (const w of ws) w();
    if (this.streamFn) this.streamFn();
  }

  private wait(): Promise<void> {
    if (this.error) return Promise.reject(this.error);
    if (this.socket.isPaused()) this.socket.resume();
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  /** The next packet as { seq, payload } (payload is a view). */
  async readPacket(): Promise<{ seq: number; payload: Buffer; raw: Buffer }> {
    while (!this.framer.next()) await this.wait();
    return { seq: this.framer.seq, payload: this.framer.payload(), raw: this.framer.raw() };
  }

  /** The next logical message (joins packets of 16 MiB - 1), checking that sequence ids follow each other. */
  async readMessage(): Promise<Message> {
    const first = await this.readPacket();
    const raw = [first.raw];
    let whole = this.assembler.add(first.payload);
    let seq = first.seq;
    while (whole === null) {
      const p = await this.readPacket();
      if (p.seq !== ((seq + 1) & 0xff)) throw new ProtocolError(`packet out of order: sequence id ${p.seq}, expected ${(seq + 1) & 0xff}`);
      seq = p.seq;
      raw.push(p.raw);
      whole = this.assembler.add(p.payload);
    }
    return { payload: whole, seq: first.seq, nextSeq: (seq + 1) & 0xff, raw };
  }

  /**
   * Stream mode: `fn` runs on every arrival (and once now) and consumes packets from `framer` synchronously.
   * Returns a function that ends stream mode.
   */
  stream(fn: () => void): () => void {
    this.streamFn = fn;
    if (this.socket.isPaused()) this.socket.resume();
    fn();
    return () => {
      this.streamFn = null;
    };
  }

  get streaming(): boolean {
    return this.streamFn !== null;
  }

  /** Writes one payload as packet(s) starting at `seq`; returns the next sequence id. */
  send(payload: Buffer, seq: number): number {
    const { bytes, nextSeq } = framePayload(payload, seq);
    this.write(bytes);
    return nextSeq;
  }

  /** Writes bytes; false when the socket's buffer is full (wait for `drained()`). */
  write(b: Buffer): boolean {
    if (this.closed) return false;
    return this.socket.write(b);
  }

  /** Writes several buffers in one system call. */
  writev(bufs: Buffer[]): boolean {
    if (this.closed || bufs.length === 0) return !this.closed;
    if (bufs.length === 1) return this.socket.write(bufs[0]!);
    this.socket.cork();
    for (let i = 0; i < bufs.length - 1; i++) this.socket.write(bufs[i]!);
    const ok = this.socket.write(bufs[bufs.length - 1]!);
    this.socket.uncork();
    return ok;
  }

  get needsDrain(): boolean {
    return this.socket.writableNeedDrain;
  }

  drained(): Promise<void> {
    if (this.closed || !this.socket.writableNeedDrain) return Promise.resolve();
    return new Promise((r) => this.drainWaiters.push(r));
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    if (!this.closed) this.socket.resume();
  }

  /** Ends the connection after what was written is flushed. */
  end(reason: string): void {
    if (!this.closeReason) this.closeReason = reason;
    if (!this.closed) this.socket.end();
  }

  destroy(reason: string): void {
    if (!this.closeReason) this.closeReason = reason;
    this.socket.destroy();
  }
}
