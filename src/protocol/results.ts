import { Reader } from './buffer.ts';
import { Cap, MAX_PACKET_PAYLOAD, Status } from './constants.ts';
import { ProtocolError } from './errors.ts';
import { decodeOk, decodeEof, isEof } from './packets.ts';

/**
 * Decoding a server response by state, never by guessing from a first byte alone: which packet comes next depends
 * on the command that was sent and on what came before (a row whose first cell happens to start with 0xfe or a
 * column named with byte 0x11 are still a row and a column definition).
 */

export type ResponseShape =
  /** COM_QUERY: OK, ERR, LOCAL INFILE request or a text result set; several when MORE_RESULTS_EXISTS. */
  | 'query'
  /** COM_STMT_EXECUTE: OK, ERR or a binary result set (possibly only its metadata when a cursor opens). */
  | 'execute'
  /** COM_STMT_FETCH: binary rows then a terminator, or ERR. */
  | 'fetch'
  /** COM_STMT_PREPARE: PREPARE_OK, parameter and column definitions; or ERR. */
  | 'prepare'
  /** COM_FIELD_LIST: column definitions then a terminator; or ERR. */
  | 'field_list'
  /** COM_STATISTICS: one packet of text. */
  | 'statistics'
  /** One OK, ERR or EOF packet (PING, INIT_DB, SET_OPTION, STMT_RESET, RESET_CONNECTION, PROCESS_KILL). */
  | 'simple';

export type PacketRole =
  | 'ok'
  | 'err'
  | 'infile_request'
  | 'column_count'
  | 'column_def'
  | 'metadata_eof'
  | 'row'
  /** Second and later packets of a value of 16 MiB or more: part of the row before. */
  | 'continuation'
  | 'rows_end'
  | 'prepare_ok'
  | 'param_def'
  | 'statistics';

type State =
  | 'first'
  | 'columns'
  | 'columns_eof'
  | 'rows'
  | 'prep_params'
  | 'prep_params_eof'
  | 'prep_columns'
  | 'prep_columns_eof'
  | 'field_list'
  | 'infile'
  | 'done';

/** Facts the tracker learned from the packet it just classified. */
export interface ResponseFacts {
  /** Columns announced by a column-count packet or PREPARE_OK. */
  columnCount: number;
  paramCount: number;
  stmtId: number;
  /** Status flags of the last OK/EOF/terminator. */
  status: number;
  warnings: number;
  affectedRows: bigint;
  lastInsertId: bigint;
  /** A cursor was opened (execute): rows come later, by COM_STMT_FETCH. */
  cursorOpened: boolean;
}

export class ResponseTracker {
  private state: State = 'done';
  private shape: ResponseShape = 'simple';
  private caps = 0;
  private remaining = 0;
  private continuing = false;
  readonly facts: ResponseFacts = {
    columnCount: 0,
    paramCount: 0,
    stmtId: 0,
    status: 0,
    warnings: 0,
    affectedRows: 0n,
    lastInsertId: 0n,
    cursorOpened: false,
  };

  /** Expect the response to a command. `caps` are the capabilities both sides agreed on. */
  begin(shape: ResponseShape, caps: number): void {
    this.shape = shape;
    this.caps = caps;
    this.continuing = false;
    this.facts.cursorOpened = false;
    this.state = shape === 'fetch' ? 'rows' : shape === 'field_list' ? 'field_list' : 'first';
  }

  get done(): boolean {
    return this.state === 'done';
  }

  /** The client must now send the file (LOAD DATA LOCAL INFILE), ending with an empty packet. */
  get awaitingInfile(): boolean {
    return this.state === 'infile';
  }

  /** The client finished sending the file; the server's OK or ERR follows. */
  infileSent(): void {
    if (this.state !== 'infile') throw new ProtocolError('file data outside LOAD DATA LOCAL INFILE');
    this.state = 'first';
  }

  /** True when the result set now being read is binary (execute, fetch). */
  get binaryRows(): boolean {
    return this.shape === 'execute' || this.shape === 'fetch';
  }

  /**
   * Classifies the next server packet. `first` is its first payload byte (-1 when empty), `len` its payload length;
   * `payload()` is called only for the packets whose content the tracker must read.
   */
  next(first: number, len: number, payload: () => Buffer): PacketRole {
    if (this.continuing) {
      this.continuing = len === MAX_PACKET_PAYLOAD;
      return 'continuation';
    }
    const role = this.classify(first, len, payload);
    // A payload of exactly 16 MiB - 1 continues in the next packet (only rows and column data can be that big).
    this.continuing = len === MAX_PACKET_PAYLOAD;
    return role;
  }

  private deprecateEof(): boolean {
    return (this.caps & Cap.DEPRECATE_EOF) !== 0;
  }

  private endOrMore(status: number): void {
    this.state = status & Status.MORE_RESULTS_EXISTS && (this.shape === 'query' || this.shape === 'execute') ? 'first' : 'done';
  }

  private readOk(p: Buffer): void {
    const ok = decodeOk(p, this.caps);
    this.facts.status = ok.status;
    this.facts.warnings = ok.warnings;
    this.facts.affectedRows = ok.affectedRows;
    this.facts.lastInsertId = ok.lastInsertId;
  }

  private readTerminator(p: Buffer): void {
    if (isEof(p)) {
      const e = decodeEof(p);
      this.facts.status = e.status;
      this.facts.warnings = e.warnings;
    } else {
      this.readOk(p);
    }
  }

  private classify(first: number, len: number, payload: () => Buffer): PacketRole {
    switch (this.state) {
      case 'done':
        throw new ProtocolError(`unexpected packet from the server after the response ended (first byte 0x${(first & 0xff).toString(16)})`);
      case 'infile':
        throw new ProtocolError('server sent a packet while the client was sending a file');
      case 'first': {
        if (first === 0xff) {
          this.state = 'done';
          return 'err';
        }
        if (this.shape === 'statistics') {
          this.state = 'done';
          return 'statistics';
        }
        if (first === 0x00 && this.shape === 'prepare') {
          const p = payload();
          const r = new Reader(p, 1);
          this.facts.stmtId = r.u32('statement id');
          this.facts.columnCount = r.u16('column count');
          this.facts.paramCount = r.u16('parameter count');
          if (r.remaining >= 3) {
            r.skip(1);
            this.facts.warnings = r.u16('warnings');
          }
          this.remaining = this.facts.paramCount;
          this.state = this.facts.paramCount > 0 ? 'prep_params' : this.facts.columnCount > 0 ? 'prep_columns' : 'done';
          if (this.state === 'prep_columns') this.remaining = this.facts.columnCount;
          return 'prepare_ok';
        }
        if (first === 0x00 || (first === 0xfe && this.shape === 'simple')) {
          const p = payload();
          if (first === 0xfe) this.readTerminator(p);
          else this.readOk(p);
          this.endOrMore(this.facts.status);
          return 'ok';
        }
        if (this.shape === 'simple') throw new ProtocolError(`unexpected response packet 0x${first.toString(16)}`);
        if (first === 0xfb && this.shape === 'query') {
          this.state = 'infile';
          return 'infile_request';
        }
        if (this.shape === 'prepare') throw new ProtocolError(`unexpected response to COM_STMT_PREPARE (0x${first.toString(16)})`);
        const n = new Reader(payload()).lenenc('column count');
        if (n === 0) throw new ProtocolError('result set with zero columns');
        this.facts.columnCount = n;
        this.remaining = n;
        this.state = 'columns';
        return 'column_count';
      }
      case 'columns':
        if (--this.remaining === 0) this.state = this.deprecateEof() ? 'rows' : 'columns_eof';
        return 'column_def';
      case 'columns_eof': {
        if (first !== 0xfe) throw new ProtocolError('expected EOF after column definitions');
        const e = decodeEof(payload());
        this.facts.status = e.status;
        if (e.status & Status.CURSOR_EXISTS && this.shape === 'execute') {
          this.facts.cursorOpened = true;
          this.state = 'done';
        } else {
          this.state = 'rows';
        }
        return 'metadata_eof';
      }
      case 'rows':
        if (first === 0xff) {
          this.state = 'done';
          return 'err';
        }
        if (first === 0xfe && len < MAX_PACKET_PAYLOAD && (len < 9 || this.deprecateEof())) {
          this.readTerminator(payload());
          if (this.facts.status & Status.CURSOR_EXISTS && this.shape === 'execute') {
            this.facts.cursorOpened = true;
            this.state = 'done';
          } else {
            this.endOrMore(this.facts.status);
          }
          return 'rows_end';
        }
        return 'row';
      case 'prep_params':
        if (--this.remaining === 0) {
          if (!this.deprecateEof()) this.state = 'prep_params_eof';
          else this.afterPrepParams();
        }
        return 'param_def';
      case 'prep_params_eof':
        if (first !== 0xfe) throw new ProtocolError('expected EOF after parameter definitions');
        this.afterPrepParams();
        return 'metadata_eof';
      case 'prep_columns':
        if (--this.remaining === 0) this.state = this.deprecateEof() ? 'done' : 'prep_columns_eof';
        return 'column_def';
      case 'prep_columns_eof':
        if (first !== 0xfe) throw new ProtocolError('expected EOF after column definitions');
        this.state = 'done';
        return 'metadata_eof';
      case 'field_list':
        if (first === 0xff) {
          this.state = 'done';
          return 'err';
        }
        if (first === 0xfe && len < MAX_PACKET_PAYLOAD && (len < 9 || this.deprecateEof())) {
          this.readTerminator(payload());
          this.state = 'done';
          return 'rows_end';
        }
        return 'column_def';
    }
  }

  private afterPrepParams(): void {
    if (this.facts.columnCount > 0) {
      this.state = 'prep_columns';
      this.remaining = this.facts.columnCount;
    } else {
      this.state = 'done';
    }
  }
}
