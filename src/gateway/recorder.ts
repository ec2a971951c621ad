import { isoTime } from '../audit/record.ts';
import type { AuditStore, ColumnInfo, Decision, EventType, NewEvent, ResultRecord } from '../audit/types.ts';
import type { StatementDecision } from '../policy/types.ts';
import type { ColumnDefinition } from '../protocol/columns.ts';
import type { Classification, OutputColumn } from '../sql/types.ts';
import type { RelayedResult } from './relay.ts';

/**
 * Builds the audit events of one session and hands them to the store. Numbering (seq) is per session; the store
 * chains and persists. A failed append is reported to the caller, which refuses to answer from an unrecorded
 * statement.
 */
export class Recorder {
  private readonly store: AuditStore;
  readonly sessionId: string;
  private seq = 0;

  constructor(store: AuditStore, sessionId: string) {
    this.store = store;
    this.sessionId = sessionId;
  }

  /** A new event, stamped now; its `seq` is given when it is appended, so records stay in the order they are written. */
  event(type: EventType, fields: Omit<NewEvent, 'sessionId' | 'seq' | 'at' | 'type'> = {}): NewEvent {
    return { sessionId: this.sessionId, seq: 0, at: isoTime(Date.now()), type, ...fields };
  }

  /** Numbers the event and hands it to the store; resolves true once durable, false when the store could not record it. */
  async append(e: NewEvent): Promise<boolean> {
    e.seq = ++this.seq;
    try {
      await this.store.append(e);
      return true;
    } catch {
      return false;
    }
  }

  get healthy(): boolean {
    return this.store.healthy;
  }
}

export function decisionRecord(d: StatementDecision): Decision {
  // Keys in canonical order: the record's encoder then has nothing to sort.
  return { action: d.action, policy: d.policy, reason: d.reason, rule: d.rule };
}

/**
 * The last column list made from each set of column definitions (the session's ColumnDefCache hands back the same
 * definitions array for the same bytes): a statement run again reuses it, and the store finds its column set by
 * identity. Frozen, as every reader gets the same objects.
 */
const infosByDefs = new WeakMap<readonly ColumnDefinition[], { styles: unknown; lineage: unknown; infos: readonly ColumnInfo[] }>();

/** The contract's column list of a result: name, origin, how it was masked, and lineage of computed columns. */
export function columnInfos(r: RelayedResult, cls: Classification | null, index: number): readonly ColumnInfo[] | undefined {
  const defs = r.defs;
  if (!defs) return undefined;
  const styles = r.masker?.styles;
  const lineage = cls?.statements[index]?.outputColumns ?? null;
  const hit = infosByDefs.get(defs);
  if (hit !== undefined && hit.styles === styles && hit.lineage === lineage) return hit.infos;
  const infos = Object.freeze(makeColumnInfos(defs, styles, lineage));
  infosByDefs.set(defs, { styles, lineage, infos });
  return infos;
}

function makeColumnInfos(
  defs: readonly ColumnDefinition[], styles: readonly ColumnInfo['masked'][] | undefined, lineage: readonly OutputColumn[] | null,
): ColumnInfo[] {
  return defs.map((d, i) => {
    const info: ColumnInfo = {
      name: d.name,
      db: d.schema,
      table: d.orgTable,
      column: d.orgName,
      type: d.type,
      flags: d.flags,
      charset: d.charset,
      decimals: d.decimals,
      masked: styles?.[i] ?? null,
    };
    if (!d.orgName && lineage && lineage.length === defs.length) {
      const src = lineage[i]!.sources.map((s) => [s.db ?? '?', s.table ?? '?', s.column].join('.'));
      if (src.length) info.derivedFrom = Object.freeze(src);
    }
    return Object.freeze(info);
  });
}

/** Turns relayed results into the event's `result` (the first) and `results` (all, when several). */
export function resultRecords(results: RelayedResult[], cls: Classification | null): Pick<NewEvent, 'result' | 'results'> {
  const recs: ResultRecord[] = results.map((r, i) => {
    const rec: ResultRecord = {};
    const columns = columnInfos(r, cls, i);
    if (columns) rec.columns = columns;
    if (r.rows && columns) rec.rows = r.rows;
    if (r.rowCount !== undefined && columns) rec.rowCount = r.rowCount;
    if (r.affectedRows !== undefined) rec.affectedRows = r.affectedRows;
    if (r.lastInsertId !== undefined) rec.lastInsertId = r.lastInsertId;
    if (r.warnings) rec.warnings = r.warnings;
    if (r.truncated) rec.truncated = r.truncated;
    if (r.error) rec.error = r.error;
    return rec;
  });
  if (recs.length === 0) return {};
  return recs.length === 1 ? { result: recs[0] } : { result: recs[0], results: recs };
}
