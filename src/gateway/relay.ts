import type { CapturedRows, ResultRecord } from '../audit/types.ts';
import type { ResultMasker } from '../policy/types.ts';
import type { ColumnDefCache, ColumnDefinition } from '../protocol/columns.ts';
import { MAX_PACKET_PAYLOAD } from '../protocol/constants.ts';
import { framePayload } from '../protocol/framing.ts';
import { decodeErr, encodeErr } from '../protocol/packets.ts';
import { ProtocolError } from '../protocol/errors.ts';
import { ResponseTracker, type ResponseShape } from '../protocol/results.ts';
import { ERRORS, errorMessage } from '../errors.ts';
import type { PacketConn } from './conn.ts';

/**
 * Streams one response from the upstream to the client.
 *
 * - Original bytes are forwarded in contiguous runs: one write per arriving chunk, not one per packet.
 * - Only column definitions and rows that masking changes are re-encoded; when that changes how many packets a
 *   row takes, or packets are dropped, the sequence ids of everything after are shifted to stay consecutive.
 * - Reading from the upstream pauses while the client's socket is full (backpressure), so nothing buffers a
 *   whole result set.
 * - The last bytes of the response (at least its final packet) are held until `finish` resolves: a client never
 *   receives the end of a result whose record is not durable.
 */

export interface ResultSetInfo {
  columns: readonly ColumnDefinition[];
  masker: ResultMasker | null;
}

/** A result with its decoded column definitions (the session turns them into the audit's ColumnInfo). */
export interface RelayedResult extends ResultRecord {
  defs?: readonly ColumnDefinition[];
  masker?: ResultMasker | null;
}

export interface RelayHooks {
  /** A result set's column definitions are complete: its masker (or null). `prepare`: the PREPARE metadata. */
  onColumns(columns: readonly ColumnDefinition[], resultIndex: number, prepare: boolean): ResultMasker | null;
  /**
   * Called for each row before it is sent, when limits apply: a message when a row limit stops the result here,
   * else null. Absent: no limits (nothing is called per row).
   */
  rowLimit: ((rowInResult: number) => string | null) | null;
  /** The server asks for a local file (LOAD DATA LOCAL INFILE): true when the statement was allowed to. */
  allowInfile(): boolean;
  /** An error message about to reach the client: a replacement when it echoes masked values, else null. */
  onError?: (message: string) => string | null;
}

export interface RelayResult {
  results: RelayedResult[];
  /** Column definitions and masker of the last result set (an execute that opened a cursor: for its fetches). */
  lastColumns: ResultSetInfo | null;
  cursorOpened: boolean;
  prepared: { stmtId: number; params: number; columns: readonly ColumnDefinition[] } | null;
  status: number;
  /** Why the response could not complete normally (upstream lost, client gone, protocol error). */
  failure: string | null;
  clientGone: boolean;
  upstreamGone: boolean;
}

export interface RelayOptions {
  client: PacketConn;
  upstream: PacketConn;
  shape: ResponseShape;
  caps: number;
  captureRows: number;
  hooks: RelayHooks;
  /** For COM_STMT_FETCH: the result set of the cursor. */
  cursor?: ResultSetInfo | null;
  /** Decodes column definitions, handing back the same array for the same bytes (the session's). */
  columnDefs: ColumnDefCache;
  /**
   * Called once the response is complete, before its held bytes go to the client. Resolve with null to send them,
   * or with an ERR payload to send in place of the final packet (the audit store could not record).
   */
  finish(r: RelayResult): Promise<Buffer | null>;
}

/** Up to this many bytes held at the end of a response are joined into one buffer (one plain write). */
const HELD_JOIN_MAX = 64 * 1024;

export function relayResponse(o: RelayOptions): Promise<RelayResult> {
  return new Relay(o).run();
}

class Relay {
  private readonly o: RelayOptions;
  private readonly f;
  private readonly tracker = new ResponseTracker();
  private readonly res: RelayResult = {
    results: [],
    lastColumns: null,
    cursorOpened: false,
    prepared: null,
    status: 0,
    failure: null,
    clientGone: false,
    upstreamGone: false,
  };

  private out: Buffer[] = [];
  private runBuf: Buffer | null = null;
  private runStart = 0;
  private runEnd = 0;
  private seqDelta = 0;

  private current: RelayedResult | null = null;
  private capture: CapturedRows | null = null;
  private inRows = false;
  private resultIndex = 0;
  private columns: readonly ColumnDefinition[] = [];
  private columnRaw: { seq: number; raw: Buffer }[] = [];
  private expectedColumns = 0;
  private inPrepare = false;
  private masker: ResultMasker | null = null;

  /** A row of 16 MiB or more, spread over packets. */
  private big: { parts: Buffer[]; seq: number; held: boolean; keep: boolean } | null = null;
  /** Dropping the current row's packets (past a limit). */
  private dropping = false;
  private discarding: string | null = null;

  /** The packet that ended the response, held apart so `finish` can put an error in its place. */
  private finalPacket: { raw: Buffer; seq: number } | null = null;
  /** Sequence id (as the client sees it) of the last packet queued for the client; commands are sent with 0. */
  private lastOutSeq = 0;
  /** Sequence id of the first packet queued since the last write. */
  private pendingFirstSeq: number | null = null;
  private done = false;
  private suspended = false;
  private waitingDrain = false;
  private stopStream: (() => void) | null = null;
  private resolve!: (r: RelayResult) => void;

  constructor(o: RelayOptions) {
    this.o = o;
    this.f = o.upstream.framer;
    this.tracker.begin(o.shape, o.caps);
    if (o.shape === 'fetch' && o.cursor) {
      this.startResult();
      this.columns = o.cursor.columns;
      this.masker = o.cursor.masker;
      this.current!.defs = this.columns;
      this.current!.masker = this.masker;
      this.inRows = true;
    }
  }

  run(): Promise<RelayResult> {
    return new Promise((resolve) => {
      this.resolve = resolve;
      this.stopStream = this.o.upstream.stream(() => this.pump());
    });
  }

  // ---- output ----

  private flushRun(): void {
    if (this.runBuf && this.runEnd > this.runStart) this.out.push(this.runBuf.subarray(this.runStart, this.runEnd));
    this.runBuf = null;
  }

  private queued(seq: number): void {
    this.lastOutSeq = seq;
    if (this.pendingFirstSeq === null) this.pendingFirstSeq = seq;
  }

  /** Forwards the current packet unchanged (its sequence id shifted if earlier packets were dropped or merged). */
  private forward(): void {
    const f = this.f;
    const b = f.buf;
    const s = f.start;
    const seq = (f.seq + this.seqDelta) & 0xff;
    if (this.seqDelta !== 0) b[s + 3] = seq;
    this.queued(seq);
    const e = s + 4 + f.len;
    if (this.runBuf === b && this.runEnd === s) {
      this.runEnd = e;
    } else {
      this.flushRun();
      this.runBuf = b;
      this.runStart = s;
      this.runEnd = e;
    }
  }

  /** Sends `payload` in place of `oldPackets` packets that started at sequence id `seq`. */
  private replace(payload: Buffer, seq: number, oldPackets: number): void {
    this.flushRun();
    const start = (seq + this.seqDelta) & 0xff;
    const { bytes, nextSeq } = framePayload(payload, start);
    this.out.push(bytes);
    this.queued(start);
    this.queued((nextSeq + 255) & 0xff);
    const used = (nextSeq - start + 256) & 0xff;
    this.seqDelta += used - oldPackets;
  }

  private drop(packets = 1): void {
    this.flushRun();
    this.seqDelta -= packets;
  }

  // ---- results ----

  private startResult(): void {
    this.current = { rowCount: 0 };
    this.capture = { format: this.tracker.binaryRows ? 'binary' : 'text', payloads: [] };
    this.current.rows = this.capture;
    this.res.results.push(this.current);
  }

  private captureRow(p: Buffer): void {
    const c = this.capture;
    if (c && c.payloads.length < this.o.captureRows) c.payloads.push(this.o.upstream.keep(p));
  }

  private emitColumns(): void {
    this.columns = this.o.columnDefs.defs(this.columnRaw.map((c) => c.raw), 4);
    if (this.inPrepare && this.res.prepared) this.res.prepared.columns = this.columns;
    const masker = this.o.hooks.onColumns(this.columns, this.resultIndex, this.inPrepare);
    const defs = masker?.columnDefs;
    this.flushRun();
    for (let i = 0; i < this.columnRaw.length; i++) {
      const c = this.columnRaw[i]!;
      const r = defs?.[i];
      const seq = (c.seq + this.seqDelta) & 0xff;
      this.queued(seq);
      if (r) {
        this.out.push(framePayload(r, seq).bytes);
      } else {
        if (this.seqDelta !== 0) c.raw[3] = seq;
        this.out.push(c.raw);
      }
    }
    this.columnRaw = [];
    if (this.inPrepare) return;
    this.masker = masker;
    if (this.current) {
      this.current.defs = this.columns;
      this.current.masker = masker;
    }
    this.res.lastColumns = { columns: this.columns, masker };
    this.inRows = true;
  }

  // ---- rows ----

  private rowStart(): void {
    const f = this.f;
    const cur = this.current;
    if (!cur) throw new ProtocolError('row outside a result set');
    const isBig = f.len === MAX_PACKET_PAYLOAD;
    if (this.discarding) {
      this.dropping = isBig;
      this.drop();
      return;
    }
    const n = (cur.rowCount ?? 0) + 1;
    const limit = this.o.hooks.rowLimit;
    const stop = limit ? limit(n) : null;
    if (stop) {
      // The client keeps the rows before the limit, then gets an error in place of the rest of the response.
      this.discarding = stop;
      cur.truncated = stop;
      this.dropping = isBig;
      this.drop();
      return;
    }
    cur.rowCount = n;
    if (isBig) {
      const keep = (this.capture?.payloads.length ?? this.o.captureRows) < this.o.captureRows;
      const held = this.masker !== null;
      this.big = { parts: held || keep ? [Buffer.from(f.payload())] : [], seq: f.seq, held, keep };
      if (!held) this.forward();
      return;
    }
    if (this.masker) {
      const p = f.payload();
      const framed = this.masker.maskRowFramed?.(p);
      if (framed === null) {
        // Unchanged, or masked in the bytes as they arrived: forwarded with the rows around it.
        this.forward();
        this.captureRow(p);
        return;
      }
      if (framed && framed.length - 4 < MAX_PACKET_PAYLOAD) {
        this.flushRun();
        const seq = (f.seq + this.seqDelta) & 0xff;
        framed[3] = seq;
        this.out.push(framed);
        this.queued(seq);
        this.captureRow(framed.subarray(4));
        return;
      }
      if (framed) {
        this.replace(framed.subarray(4), f.seq, 1);
        this.captureRow(framed.subarray(4));
        return;
      }
      const m = this.masker.maskRow(p);
      if (m) {
        this.replace(m, f.seq, 1);
        this.captureRow(m);
        return;
      }
      this.forward();
      this.captureRow(p);
      return;
    }
    // The fast path: no masking; a view of the payload only while rows are still being captured.
    this.forward();
    const c = this.capture;
    if (c && c.payloads.length < this.o.captureRows) c.payloads.push(this.o.upstream.keep(f.payload()));
  }

  private continuation(): void {
    const f = this.f;
    const last = f.len < MAX_PACKET_PAYLOAD;
    if (this.dropping) {
      this.drop();
      if (last) this.dropping = false;
      return;
    }
    const big = this.big;
    if (!big) {
      // Continuation of a column definition or other non-row packet: forwarded as is.
      this.forward();
      return;
    }
    if (big.held || big.keep) big.parts.push(Buffer.from(f.payload()));
    if (!big.held) this.forward();
    if (!last) return;
    this.big = null;
    const whole = big.parts.length ? Buffer.concat(big.parts) : null;
    if (big.held && whole) {
      const m = this.masker!.maskRow(whole);
      this.replace(m ?? whole, big.seq, big.parts.length);
      this.captureRow(m ?? whole);
    } else if (whole) {
      this.captureRow(whole);
    }
  }

  // ---- the loop ----

  private pump(): void {
    if (this.done || this.suspended) return;
    const o = this.o;
    try {
      while (this.f.next()) {
        this.step();
        if (this.done || this.suspended) return;
        if (this.tracker.done) {
          this.complete();
          return;
        }
      }
    } catch (e) {
      if (!(e instanceof ProtocolError)) throw e;
      o.upstream.destroy(e.message);
      this.fail(`upstream protocol error: ${e.message}`, true);
      return;
    }
    if (o.upstream.closed) {
      this.fail(`upstream connection lost (${o.upstream.closeReason ?? 'closed'})`, true);
      return;
    }
    if (o.client.closed) {
      this.res.clientGone = true;
      this.res.failure = `client went away (${o.client.closeReason ?? 'closed'})`;
      this.complete();
      return;
    }
    this.flushRun();
    if (this.out.length === 0) return;
    const ok = o.upstream.writeOut(o.client, this.out);
    this.out = [];
    this.pendingFirstSeq = null;
    if (!ok && !this.waitingDrain) {
      this.waitingDrain = true;
      o.upstream.pause();
      void o.client.drained().then(() => {
        this.waitingDrain = false;
        if (this.done) return;
        o.upstream.resume();
        if (o.client.closed) this.pump();
      });
    }
  }

  private step(): void {
    const f = this.f;
    const role = this.tracker.next(f.first(), f.len, () => f.payload());
    const ending = this.tracker.done;
    let errReplacement: Buffer | null = null;
    if (this.discarding && role !== 'row' && role !== 'continuation') {
      // Past a row limit every further packet (other results of a multi-statement too) is dropped; the client
      // gets the limit error where the dropping began.
      if (role === 'infile_request') throw new ProtocolError('LOCAL INFILE request after a row limit');
      this.drop();
      return;
    }
    switch (role) {
      case 'row':
        this.rowStart();
        return;
      case 'continuation':
        this.continuation();
        return;
      case 'column_count':
        this.startResult();
        this.columns = [];
        this.columnRaw = [];
        this.expectedColumns = this.tracker.facts.columnCount;
        this.masker = null;
        this.forward();
        return;
      case 'column_def': {
        if (this.o.shape === 'field_list') {
          this.forward();
          return;
        }
        // Decoded once all have come (emitColumns), from the kept packets.
        this.flushRun();
        this.columnRaw.push({ seq: f.seq, raw: this.o.upstream.keep(f.raw()) });
        if (this.columnRaw.length === this.expectedColumns) this.emitColumns();
        return;
      }
      case 'prepare_ok':
        this.inPrepare = true;
        this.columns = [];
        this.columnRaw = [];
        this.expectedColumns = this.tracker.facts.columnCount;
        this.res.prepared = { stmtId: this.tracker.facts.stmtId, params: this.tracker.facts.paramCount, columns: this.columns };
        this.res.results.push({ warnings: this.tracker.facts.warnings });
        this.forward();
        return;
      case 'param_def':
        this.forward();
        return;
      case 'metadata_eof':
        if (this.tracker.facts.cursorOpened) this.res.cursorOpened = true;
        break;
      case 'rows_end':
        if (this.current) this.current.warnings = this.tracker.facts.warnings;
        if (this.tracker.facts.cursorOpened) this.res.cursorOpened = true;
        this.inRows = false;
        this.resultIndex++;
        break;
      case 'ok': {
        const r: RelayedResult = {
          affectedRows: Number(this.tracker.facts.affectedRows),
          warnings: this.tracker.facts.warnings,
        };
        if (this.tracker.facts.lastInsertId) r.lastInsertId = this.tracker.facts.lastInsertId.toString();
        this.res.results.push(r);
        this.resultIndex++;
        break;
      }
      case 'err': {
        const e = decodeErr(f.payload());
        const scrubbed = this.o.hooks.onError?.(e.message) ?? null;
        if (scrubbed !== null) {
          e.message = scrubbed;
          errReplacement = encodeErr(e.code, e.sqlState, scrubbed);
        }
        const error = { code: e.code, sqlState: e.sqlState, message: e.message };
        if (this.inRows && this.current) this.current.error = error;
        else this.res.results.push({ error });
        this.inRows = false;
        this.resultIndex++;
        break;
      }
      case 'statistics':
        break;
      case 'infile_request':
        this.infile();
        return;
    }
    // Packets that may end the response: hold the last one apart so `finish` can replace it.
    if (ending) {
      this.flushRun();
      const seq = (f.seq + this.seqDelta) & 0xff;
      if (this.seqDelta !== 0) f.buf[f.start + 3] = seq;
      const raw = errReplacement ? framePayload(errReplacement, seq).bytes : this.o.upstream.keep(f.raw());
      this.finalPacket = { raw, seq };
      this.lastOutSeq = seq;
    } else if (errReplacement) {
      this.replace(errReplacement, f.seq, 1);
    } else {
      this.forward();
    }
  }

  /** LOAD DATA LOCAL INFILE: relays the file from the client when allowed; otherwise tells the server "no file". */
  private infile(): void {
    const o = this.o;
    const f = this.f;
    const requestSeq = f.seq;
    this.suspended = true;
    this.stopStream?.();
    if (!o.hooks.allowInfile()) {
      // An empty packet means "no file": the server answers with its own error or OK, shifted by the two packets
      // the client never saw.
      o.upstream.send(Buffer.alloc(0), (requestSeq + 1) & 0xff);
      this.seqDelta -= 2;
      this.tracker.infileSent();
      this.resumeStream();
      return;
    }
    this.forward();
    this.flushRun();
    o.upstream.writeOut(o.client, this.out);
    this.out = [];
    this.pendingFirstSeq = null;
    void (async () => {
      try {
        for (;;) {
          const p = await o.client.readPacket();
          const raw = Buffer.from(p.raw);
          raw[3] = (p.seq - this.seqDelta) & 0xff;
          o.upstream.write(raw);
          if (o.upstream.needsDrain) await o.upstream.drained();
          if (p.payload.length === 0) break;
        }
        this.tracker.infileSent();
        this.resumeStream();
      } catch (e) {
        this.fail(`client failed while sending its file: ${(e as Error).message}`, false);
      }
    })();
  }

  private resumeStream(): void {
    this.suspended = false;
    this.stopStream = this.o.upstream.stream(() => this.pump());
  }

  private fail(message: string, upstreamGone: boolean): void {
    if (this.done) return;
    this.res.failure = message;
    this.res.upstreamGone = upstreamGone;
    const error = { code: ERRORS.UPSTREAM_UNAVAILABLE.errno, message };
    if (this.current && this.inRows) this.current.error = error;
    else this.res.results.push({ error });
    // The client gets the error where the response broke off; the session closes the connection after it.
    this.flushRun();
    const err = encodeErr(ERRORS.UPSTREAM_UNAVAILABLE.errno, ERRORS.UPSTREAM_UNAVAILABLE.sqlState,
      errorMessage('UPSTREAM_UNAVAILABLE', message));
    const seq = (this.lastOutSeq + 1) & 0xff;
    this.out.push(framePayload(err, seq).bytes);
    this.queued(seq);
    this.complete();
  }

  private complete(): void {
    if (this.done) return;
    this.done = true;
    this.stopStream?.();
    this.flushRun();
    this.res.status = this.tracker.facts.status;
    let held = this.out;
    this.out = [];
    if (this.discarding) {
      // The row limit error ends the response for the client, right after the last row it received.
      const seq = (this.lastOutSeq + 1) & 0xff;
      const err = encodeErr(ERRORS.ROW_LIMIT.errno, ERRORS.ROW_LIMIT.sqlState, this.discarding);
      held.push(framePayload(err, seq).bytes);
      this.queued(seq);
    } else if (this.finalPacket) {
      this.queued(this.finalPacket.seq);
      held.push(this.finalPacket.raw);
    }
    // Held across the audit write, so views into a shared read buffer are copied. A small response (most are) is
    // copied into one buffer, which its write then sends as it is, without the socket's corked multi-buffer path.
    let size = 0;
    for (const b of held) size += b.length;
    if (held.length > 1 && size <= HELD_JOIN_MAX) held = [Buffer.concat(held, size)];
    else if (this.o.upstream.transient) held = held.map((b) => Buffer.from(b));
    const firstHeld = this.pendingFirstSeq;
    const client = this.o.client;
    void this.o.finish(this.res).then(
      (replacement) => {
        if (!this.res.clientGone && !client.closed) {
          if (replacement) {
            // Nothing of what was held goes out: the error takes its place (right after what was streamed).
            client.write(framePayload(replacement, firstHeld ?? 1).bytes);
          } else {
            client.writev(held);
          }
        }
        this.resolve(this.res);
      },
      (e: unknown) => {
        client.destroy(`internal error: ${(e as Error).message}`);
        this.res.failure = (e as Error).message;
        this.resolve(this.res);
      },
    );
  }
}
