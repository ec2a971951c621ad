import { decodeRowCells, type CellValue } from '../protocol/rows.ts';
import { eventResults } from './search.ts';
import type { ColumnInfo, ResultRecord, Session, StoredEvent } from './types.ts';

/**
 * The contract's JSON shapes (README "HTTP API"): a stored event with its captured rows decoded to their text form,
 * ready for the API, the CLI and the console. Pure: no store access.
 */

export interface PresentedColumn {
  name: string;
  db: string;
  table: string;
  column: string;
  masked: ColumnInfo['masked'];
  derivedFrom?: string[];
}

export interface PresentedResult {
  columns?: PresentedColumn[];
  /** The captured rows as the client received them; `rowCount` counts every row, captured or not. */
  rows?: CellValue[][];
  rowCount?: number;
  affectedRows?: number;
  lastInsertId?: string;
  warnings?: number;
  truncated?: string;
  error?: ResultRecord['error'];
  /** Set when a captured row could not be decoded: the rows before it are shown. */
  rowsError?: string;
}

export interface PresentedEvent extends PresentedResult {
  seq: number;
  at: string;
  type: StoredEvent['type'];
  sql?: string;
  params?: StoredEvent['params'];
  stmtId?: number;
  kinds?: StoredEvent['kinds'];
  fingerprint?: string;
  decision?: StoredEvent['decision'];
  approval?: StoredEvent['approval'];
  db?: string;
  /** Every result when the statement returned several (the first is also shown at the top level). */
  results?: PresentedResult[];
  durationMs?: number;
  detail?: Record<string, unknown>;
  chain?: StoredEvent['chain'];
}

export interface PresentedSession {
  id: string;
  target: string;
  identity: Session['identity'];
  client: string;
  tls: boolean;
  startedAt: string;
  endedAt: string | null;
  endCause: string | null;
  statements: number;
  denied: number;
  approvals: number;
  kinds: Session['kinds'];
  policy: string;
  instanceId: string;
  events?: PresentedEvent[];
}

export function presentColumn(c: ColumnInfo): PresentedColumn {
  const out: PresentedColumn = { name: c.name, db: c.db, table: c.table, column: c.column, masked: c.masked ?? null };
  if (c.derivedFrom?.length) out.derivedFrom = [...c.derivedFrom];
  return out;
}

export function presentResult(r: ResultRecord): PresentedResult {
  const out: PresentedResult = {};
  if (r.columns) out.columns = r.columns.map(presentColumn);
  if (r.rows) {
    const rows: CellValue[][] = [];
    if (!r.columns) out.rowsError = 'the column definitions were not recorded: rows cannot be decoded';
    else {
      for (const p of r.rows.payloads) {
        try {
          rows.push(decodeRowCells(r.rows.format, p, r.columns));
        } catch (err) {
          out.rowsError = `row ${rows.length + 1} could not be decoded: ${(err as Error).message}`;
          break;
        }
      }
    }
    out.rows = rows;
  }
  if (r.rowCount !== undefined) out.rowCount = r.rowCount;
  if (r.affectedRows !== undefined) out.affectedRows = r.affectedRows;
  if (r.lastInsertId !== undefined) out.lastInsertId = r.lastInsertId;
  if (r.warnings !== undefined) out.warnings = r.warnings;
  if (r.truncated !== undefined) out.truncated = r.truncated;
  if (r.error !== undefined) out.error = r.error;
  return out;
}

export function presentEvent(e: StoredEvent): PresentedEvent {
  const out: PresentedEvent = { seq: e.seq, at: e.at, type: e.type };
  if (e.sql !== undefined) out.sql = e.sql;
  if (e.params !== undefined) out.params = e.params;
  if (e.stmtId !== undefined) out.stmtId = e.stmtId;
  if (e.kinds !== undefined) out.kinds = e.kinds;
  if (e.fingerprint !== undefined) out.fingerprint = e.fingerprint;
  if (e.decision !== undefined) out.decision = e.decision;
  if (e.approval !== undefined) out.approval = e.approval;
  if (e.db !== undefined) out.db = e.db;
  const results = eventResults(e).map(presentResult);
  if (results.length) Object.assign(out, results[0]);
  if (results.length > 1) out.results = results;
  if (e.durationMs !== undefined) out.durationMs = e.durationMs;
  if (e.detail !== undefined) out.detail = e.detail;
  out.chain = e.chain;
  return out;
}

export function presentSession(s: Session & { events?: StoredEvent[] }): PresentedSession {
  const out: PresentedSession = {
    id: s.id, target: s.target, identity: s.identity, client: s.client, tls: s.tls, startedAt: s.startedAt,
    endedAt: s.endedAt, endCause: s.endCause, statements: s.statements, denied: s.denied, approvals: s.approvals,
    kinds: s.kinds, policy: s.policy, instanceId: s.instanceId,
  };
  if (s.events) out.events = s.events.map(presentEvent);
  return out;
}
