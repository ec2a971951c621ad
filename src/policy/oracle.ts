import type { StatementInfo, StatementKind } from '../sql/types.ts';
import type { MaskSet } from './maskset.ts';
import { formatColumn, formatTable, resolveTable, statementTables, type ResolvedTable } from './patterns.ts';
import type { Judged } from './statements.ts';

/**
 * The masked-column-use rule (`maskedColumnUse`). Masking hides values in results, but a statement can still learn
 * them without returning them: by filtering on them (`WHERE ssn LIKE '1%'` answers one digit at a time), sorting,
 * grouping or joining on them, or copying them somewhere unmasked (`INTO @var`, `INTO OUTFILE`, `SET @x :=
 * (SELECT ssn …)`, `INSERT … SELECT ssn`, `CREATE TABLE/VIEW … AS SELECT ssn`). Such statements are denied or sent
 * for approval before any ordinary rule runs, so no later allow rule can undo masking.
 */

export type Tri = boolean | 'unknown';

export interface OracleFinding {
  result: Tri;
  /** What the statement does with which masked column, or why it cannot be known. */
  why: string;
}

/** Statements that can read column values; others (USE, KILL, SHOW, GRANT, …) cannot use a masked column. */
const VALUE_KINDS: ReadonlySet<StatementKind> = new Set<StatementKind>([
  'select', 'insert', 'update', 'delete', 'replace', 'create', 'set', 'do', 'call', 'into_outfile', 'prepare',
  'explain', 'other',
]);

/**
 * Statements that write what they read somewhere a later SELECT would not see masked: INSERT/REPLACE … SELECT,
 * CREATE TABLE … SELECT, CREATE VIEW (a view's columns name the view, not the masked table). CREATE TABLE … LIKE
 * copies no rows, and a stored program's body is judged statement by statement.
 */
function copiesRows(s: StatementInfo): boolean {
  if (s.tablesRead.length === 0) return false;
  if (s.kinds.includes('insert') || s.kinds.includes('replace')) return true;
  if (!s.kinds.includes('create')) return false;
  return s.kinds.includes('select') || s.object === 'view';
}

const INTO_TEXT = { variable: 'a user variable', outfile: 'a file (INTO OUTFILE)', dumpfile: 'a file (INTO DUMPFILE)' } as const;

export function checkMaskedColumnUse(j: Judged, masks: MaskSet, currentDb: string | null): OracleFinding {
  if (!masks.hasColumnRules) return { result: false, why: 'the policy masks no columns' };
  const s = j.info;
  if (j.unknown) return { result: 'unknown', why: 'its text is in a variable, so it may use masked columns' };
  if (!s.parsed) {
    if (s.kinds.some((k) => VALUE_KINDS.has(k))) {
      return { result: 'unknown', why: 'it could not be parsed, so it cannot be shown not to filter on or copy a masked column' };
    }
    return { result: false, why: `a ${s.kinds.join('/') || 'statement'} cannot use column values` };
  }
  const tables = statementTables(s, currentDb);
  for (const ref of s.predicateColumns) {
    const { style, column } = masks.styleOfRef(ref, tables, currentDb);
    if (style !== null && column !== null) {
      return {
        result: true,
        why: `it filters, sorts, groups or joins on masked column ${formatColumn(column)}, which would reveal its values`,
      };
    }
  }
  const readTables = s.tablesRead.map((t) => resolveTable(t, currentDb));
  if (s.into !== null) {
    const dest = INTO_TEXT[s.into];
    return copyFinding(j, masks, tables, readTables, currentDb, `copies masked column %c into ${dest}`, `it writes values it reads from %t into ${dest}, and which columns is not known`);
  }
  if (copiesRows(s)) {
    const dest = s.tablesWritten.length > 0 ? formatTable(resolveTable(s.tablesWritten[0]!, currentDb)) : 'a new object';
    return copyFinding(j, masks, tables, readTables, currentDb, `copies masked column %c into ${dest}, where it is no longer masked`, `it copies values it reads from %t into ${dest}, and which columns is not known`);
  }
  if (s.kinds.includes('do')) {
    // DO evaluates expressions and discards them: nothing to mask, but SLEEP(IF(ssn …)) makes a timing oracle.
    const t = readTables.find((r) => masks.tableStyle(r) !== null);
    if (t) return { result: 'unknown', why: `DO evaluates expressions over ${formatTable(t)}, which has masked columns, without returning them` };
  }
  return { result: false, why: 'it neither filters on nor copies a masked column' };
}

function copyFinding(
  j: Judged, masks: MaskSet, tables: readonly ResolvedTable[], readTables: readonly ResolvedTable[], currentDb: string | null,
  known: string, unknown: string,
): OracleFinding {
  // A view's SELECT is its body; INTO OUTFILE written before FROM can come back with no output columns at all,
  // which says nothing about what is copied.
  const body = j.info.body;
  let outs = j.info.outputColumns;
  if (outs === null && body !== undefined && body.length === 1) outs = body[0]!.outputColumns;
  if (outs !== null && outs.length === 0) outs = null;
  if (outs !== null) {
    for (const o of outs) {
      for (const ref of o.sources) {
        const { style, column } = masks.styleOfRef(ref, tables, currentDb);
        if (style !== null && column !== null) return { result: true, why: `it ${known.replace('%c', formatColumn(column))}` };
      }
      for (const st of o.star ?? []) {
        const t = resolveTable(st, currentDb);
        if (masks.tableStyle(t) !== null) {
          return { result: true, why: `it ${known.replace('masked column %c', `${formatTable(t)}.* (which may include masked columns)`)}` };
        }
      }
    }
    return { result: false, why: 'the columns it copies are not masked' };
  }
  const t = readTables.find((r) => masks.tableStyle(r) !== null);
  if (t) return { result: 'unknown', why: unknown.replace('%t', formatTable(t)) };
  if (readTables.length === 0) return { result: 'unknown', why: unknown.replace('%t', 'tables that are not known') };
  return { result: false, why: 'it reads no table with masked columns' };
}
