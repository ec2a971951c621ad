import type { Classification } from '../sql/types.ts';
import type { StatementDecision } from '../policy/types.ts';
import type { ColumnDefinition } from '../protocol/columns.ts';
import type { ParamType } from '../protocol/commands.ts';
import type { ResultSetInfo } from './relay.ts';

/** A statement prepared on this connection, remembered from PREPARE to CLOSE. */
export interface PreparedStatement {
  id: number;
  sql: string;
  cls: Classification;
  decision: StatementDecision;
  paramCount: number;
  columns: readonly ColumnDefinition[];
  /** Parameter types of the last execute: later executes may omit them (new-params-bound = 0). */
  types: ParamType[] | null;
  /** COM_STMT_SEND_LONG_DATA pieces per parameter since the last execute. */
  longData: Map<number, Buffer[]>;
  longDataBytes: number;
  /** The result set of an open cursor, for COM_STMT_FETCH. */
  cursor: ResultSetInfo | null;
}

/** MariaDB lets a pipelined COM_STMT_EXECUTE name "the statement just prepared" with this id. */
export const LAST_PREPARED = 0xffffffff;

/** Long data kept per parameter for the audit record; the server gets all of it regardless. */
const LONG_DATA_AUDIT_LIMIT = 16 * 1024 * 1024;

const NO_LONG_DATA: Map<number, Buffer> = new Map();

export class StatementRegistry {
  private readonly byId = new Map<number, PreparedStatement>();
  private last: number | null = null;

  add(s: PreparedStatement): void {
    this.byId.set(s.id, s);
    this.last = s.id;
  }

  get(id: number): PreparedStatement | undefined {
    if (id === LAST_PREPARED && this.last !== null) return this.byId.get(this.last);
    return this.byId.get(id);
  }

  delete(id: number): void {
    this.byId.delete(id);
    if (this.last === id) this.last = null;
  }

  clear(): void {
    this.byId.clear();
    this.last = null;
  }

  get size(): number {
    return this.byId.size;
  }

  appendLongData(s: PreparedStatement, param: number, data: Buffer): void {
    if (s.longDataBytes + data.length > LONG_DATA_AUDIT_LIMIT) return;
    let parts = s.longData.get(param);
    if (!parts) s.longData.set(param, (parts = []));
    parts.push(Buffer.from(data));
    s.longDataBytes += data.length;
  }

  /** The long data of each parameter joined, for decoding an execute; cleared as the server clears it. */
  takeLongData(s: PreparedStatement): Map<number, Buffer> {
    if (s.longData.size === 0) return NO_LONG_DATA;
    const out = new Map<number, Buffer>();
    for (const [k, v] of s.longData) out.set(k, Buffer.concat(v));
    s.longData.clear();
    s.longDataBytes = 0;
    return out;
  }
}
