import type { MaskStyle } from '../config/types.ts';
import type { ColumnDefinition } from '../protocol/columns.ts';
import type { Classification, ColumnRef, OutputColumn, StatementInfo, StatementKind, TableRef } from '../sql/types.ts';
import { stricter, type MaskSet } from './maskset.ts';
import { resolveTable, statementTables, type ResolvedTable } from './patterns.ts';

/**
 * Which columns of a result set are masked, and how. Two sources, both consulted for every column (the stricter
 * wins):
 * - the column's origin (`schema.orgTable.orgName` in its definition): the server fills it for plain references,
 *   aliases and `t.*` alike, so renaming a column does not unmask it;
 * - the statement's lineage (`outputColumns[i].sources`): every base column a value is computed from, through
 *   functions, subqueries, derived tables, CTEs and UNION branches — which covers `CONCAT(ssn, '')` and friends,
 *   whose origin is empty.
 *
 * When the lineage is unknown (the statement was not parsed, a `*` of unknown width makes positions uncertain, the
 * column counts do not line up, or the result comes from a procedure) a column whose origin does not name a base
 * table column is "unexplained". If the statement reads a table that has masked columns (for an unknown statement:
 * if the policy masks any column), every unexplained column is masked in the strictest style of the rules that
 * could apply. This over-masks computed columns such as `COUNT(*)` in those cases; it never lets one through.
 */

type Slot =
  | { k: 'known'; out: OutputColumn }
  | { k: 'star'; tables: TableRef[]; sources: ColumnRef[] }
  | { k: 'unknown' };

/** Statements whose results describe the schema or a plan, never table data: no fail-closed masking for them. */
const NO_DATA_KINDS: ReadonlySet<StatementKind> = new Set<StatementKind>(['show', 'describe', 'explain']);

/**
 * The column's origin names a column of a table the statement reads. An origin alone does not prove a base table:
 * MariaDB reports a derived table's column as `app.d.x`, a CTE's as `app.c.ssn` and a view's as `app.v.vs`. So
 * when the statement's tables are known, the origin table must be one of them (a derived table or CTE is not).
 * Without them (no statement, a procedure's results) an origin with all three parts is taken as it is.
 */
export function explainedByOrigin(c: ColumnDefinition, tables: readonly ResolvedTable[] | null): boolean {
  if (c.schema === '' || c.orgTable === '' || c.orgName === '') return false;
  if (tables === null) return true;
  const db = c.schema.toLowerCase();
  const table = c.orgTable.toLowerCase();
  return tables.some((t) => t.table === table && (t.db === null || t.db === db));
}

function mapLineage(stmt: StatementInfo | null, n: number): Slot[] {
  const unknown: Slot[] = new Array<Slot>(n).fill({ k: 'unknown' });
  if (stmt === null || !stmt.parsed || stmt.outputColumns === null) return unknown;
  const outs = stmt.outputColumns;
  const stars: number[] = [];
  outs.forEach((o, k) => {
    if (o.star && o.star.length > 0) stars.push(k);
  });
  if (stars.length === 0) {
    if (outs.length !== n) return unknown;
    return outs.map((out) => ({ k: 'known', out }));
  }
  // Columns before the first star and after the last one keep their positions (counted from either end); the
  // ones in between may come from any star, or be any of the entries between the stars.
  const fixed = outs.length - stars.length;
  if (fixed > n) return unknown;
  const first = stars[0]!;
  const last = stars[stars.length - 1]!;
  const after = outs.length - 1 - last;
  const slots: Slot[] = new Array<Slot>(n);
  const tables: TableRef[] = [];
  const sources: ColumnRef[] = [];
  for (let k = first; k <= last; k++) {
    const o = outs[k]!;
    if (o.star && o.star.length > 0) tables.push(...o.star);
    sources.push(...o.sources);
  }
  for (let i = 0; i < n; i++) {
    if (i < first) slots[i] = { k: 'known', out: outs[i]! };
    else if (i >= n - after) slots[i] = { k: 'known', out: outs[last + 1 + (i - (n - after))]! };
    else slots[i] = { k: 'star', tables, sources };
  }
  return slots;
}

/**
 * What the statement says about each result position, once per (policy, statement, current db, column count):
 * `known` positions carry their lineage style, the others the style an unexplained column gets there.
 */
interface Plan {
  known: boolean[];
  style: (MaskStyle | null)[];
}

// Classifications come from a cache that hands out the same frozen objects for the same text, so prepared
// statements and repeated queries find their plan here instead of walking the lineage again.
const plans = new WeakMap<MaskSet, WeakMap<StatementInfo, Map<string, Plan>>>();

function planFor(masks: MaskSet, stmt: StatementInfo | null, n: number, currentDb: string | null): Plan {
  if (stmt === null) {
    const s = masks.strictestColumnStyle();
    return { known: new Array<boolean>(n).fill(false), style: new Array<MaskStyle | null>(n).fill(s) };
  }
  let byStmt = plans.get(masks);
  if (byStmt === undefined) {
    byStmt = new WeakMap();
    plans.set(masks, byStmt);
  }
  let byKey = byStmt.get(stmt);
  if (byKey === undefined) {
    byKey = new Map();
    byStmt.set(stmt, byKey);
  }
  const key = `${n}\u0000${currentDb ?? ''}`;
  let plan = byKey.get(key);
  if (plan === undefined) {
    plan = buildPlan(masks, stmt, n, currentDb);
    // A statement is seen with few distinct widths and databases; bound it anyway.
    if (byKey.size > 16) byKey.clear();
    byKey.set(key, plan);
  }
  return plan;
}

function buildPlan(masks: MaskSet, stmt: StatementInfo, n: number, currentDb: string | null): Plan {
  const tables = statementTables(stmt, currentDb);
  const slots = mapLineage(stmt, n);
  const known = new Array<boolean>(n).fill(false);
  const style = new Array<MaskStyle | null>(n).fill(null);
  let failClosed: MaskStyle | null | undefined;
  for (let i = 0; i < n; i++) {
    const slot = slots[i]!;
    if (slot.k === 'known') {
      known[i] = true;
      for (const ref of slot.out.sources) style[i] = stricter(style[i]!, masks.styleOfRef(ref, tables, currentDb).style);
    } else if (slot.k === 'star') {
      for (const t of slot.tables) style[i] = stricter(style[i]!, masks.tableStyle(resolveTable(t, currentDb)));
      for (const ref of slot.sources) style[i] = stricter(style[i]!, masks.styleOfRef(ref, tables, currentDb).style);
    } else {
      if (failClosed === undefined) failClosed = failClosedStyle(masks, stmt, currentDb);
      style[i] = failClosed;
    }
  }
  return { known, style };
}

/** The masking style of each column of a result set (null: not masked by a column rule). */
export function columnStyles(
  masks: MaskSet, columns: readonly ColumnDefinition[], cls: Classification | null, resultIndex: number, currentDb: string | null,
): (MaskStyle | null)[] {
  const n = columns.length;
  const styles: (MaskStyle | null)[] = new Array<MaskStyle | null>(n).fill(null);
  if (!masks.hasColumnRules) return styles;
  const stmt = cls === null ? null : (cls.statements[resultIndex] ?? null);
  const plan = planFor(masks, stmt, n, currentDb);
  const tables = stmt === null || stmt.kinds.includes('call') ? null : statementTables(stmt, currentDb);
  for (let i = 0; i < n; i++) {
    const c = columns[i]!;
    let style: MaskStyle | null = null;
    if (c.orgName !== '' && c.orgTable !== '') {
      // A derived table or view column may have an empty schema: the database is then unknown, which matches.
      style = masks.styleOf({
        db: c.schema === '' ? null : c.schema.toLowerCase(),
        table: c.orgTable.toLowerCase(),
        column: c.orgName.toLowerCase(),
      });
    }
    // Lineage applies to every column it explains; the fallback only to columns their origin does not explain.
    if (plan.known[i] || !explainedByOrigin(c, tables)) style = stricter(style, plan.style[i]!);
    styles[i] = style;
  }
  return styles;
}

/** The style for unexplained columns when lineage is unknown; null when the statement reads no masked table. */
function failClosedStyle(masks: MaskSet, stmt: StatementInfo | null, currentDb: string | null): MaskStyle | null {
  if (stmt !== null && stmt.kinds.length > 0 && stmt.kinds.every((k) => NO_DATA_KINDS.has(k))) return null;
  // Tables are not known for a result without a statement, an unparsed statement, or a procedure's results.
  if (stmt === null || !stmt.parsed || stmt.kinds.includes('call')) return masks.strictestColumnStyle();
  let style: MaskStyle | null = null;
  for (const t of stmt.tablesRead) style = stricter(style, masks.tableStyle(resolveTable(t, currentDb)));
  return style;
}
