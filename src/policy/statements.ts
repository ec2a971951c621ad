import type { Classification, StatementInfo } from '../sql/types.ts';
import { formatTable, resolveTable } from './patterns.ts';
import { firstWordIndex, wordsOf } from './words.ts';

/**
 * The statements a decision must judge. A text may hold several statements (multi-statements), and a statement
 * may carry others that run now or later: the statement a PREPARE prepares, the body of an anonymous block
 * (runs now), the body of a stored program being created (runs later, on CALL or on a trigger's event, where the
 * gateway sees only `CALL p()`: judging the body at creation is the only chance), and the statement an
 * `ANALYZE …` / `EXPLAIN ANALYZE …` executes. A plain EXPLAIN does not run its statement and is judged alone.
 */
export interface Judged {
  info: StatementInfo;
  /** Position of the top-level statement it belongs to (0-based). */
  top: number;
  /** Where it sits, for reasons: '' for a lone top-level statement, else e.g. `statement 2`, `prepared by statement 1`. */
  where: string;
  /** The content is not known at all: `PREPARE s FROM @var` (the text is in a variable). */
  unknown: boolean;
}

const UNKNOWN_INFO: StatementInfo = {
  kinds: [],
  text: '',
  tablesRead: [],
  tablesWritten: [],
  unboundedWrite: null,
  predicateColumns: [],
  outputColumns: null,
  into: null,
  localInfile: false,
  parsed: false,
};

/** True when an EXPLAIN/ANALYZE statement executes the statement it explains. */
function explainRuns(s: StatementInfo): boolean {
  const w = wordsOf(s);
  const i = firstWordIndex(w);
  if (i < 0) return false;
  const first = w.list[i];
  if (first === 'ANALYZE') return true;
  return (first === 'EXPLAIN' || first === 'DESCRIBE' || first === 'DESC') && w.list[i + 1] === 'ANALYZE';
}

function isPrepareFrom(s: StatementInfo): boolean {
  const w = wordsOf(s);
  const i = firstWordIndex(w);
  return i >= 0 && w.list[i] === 'PREPARE';
}

export function judgedStatements(cls: Classification): Judged[] {
  const out: Judged[] = [];
  const many = cls.statements.length > 1;
  const visit = (info: StatementInfo, top: number, where: string, depth: number): void => {
    out.push({ info, top, where, unknown: false });
    // Bodies nest (a procedure holding a block holding …); the classifier bounds this, and so do we.
    if (depth > 8) return;
    const label = where === '' ? 'the statement' : where;
    if (info.prepared && info.prepared.length > 0) {
      info.prepared.forEach((p, k) =>
        visit(p, top, `prepared by ${label}${info.prepared!.length > 1 ? ` (part ${k + 1})` : ''}`, depth + 1));
    } else if (info.kinds.includes('prepare') && isPrepareFrom(info)) {
      out.push({ info: UNKNOWN_INFO, top, where: `prepared by ${label} from a variable`, unknown: true });
    }
    if (info.body) info.body.forEach((b) => visit(b, top, `inside the body of ${label}`, depth + 1));
    if (info.explained && explainRuns(info)) visit(info.explained, top, `run by ${label}`, depth + 1);
  };
  cls.statements.forEach((s, i) => visit(s, i, many ? `statement ${i + 1}` : '', 0));
  return out;
}

// Statements from the classifier's cache are shared objects: their short names are kept per current database.
const described = new WeakMap<StatementInfo, { db: string | null; what: string }>();

/** A short name for a statement: its verb (and object), and the tables it touches, e.g. `DROP TABLE on app.users`. */
export function describe(j: Judged, currentDb: string | null): string {
  let what: string;
  if (j.unknown) what = 'a statement whose text is in a variable';
  else {
    const hit = described.get(j.info);
    if (hit !== undefined && hit.db === currentDb) what = hit.what;
    else {
      what = describeInfo(j.info, currentDb);
      described.set(j.info, { db: currentDb, what });
    }
  }
  return j.where === '' ? what : `${what} (${j.where})`;
}

function describeInfo(s: StatementInfo, currentDb: string | null): string {
  const w = wordsOf(s);
  const i = firstWordIndex(w);
  let verb = i >= 0 ? w.list[i]! : (s.kinds[0] ?? 'statement').toUpperCase();
  const next = i >= 0 ? w.list[i + 1] : undefined;
  if (next !== undefined && OBJECT_WORDS.has(next)) verb += ` ${next}`;
  const tables = (s.tablesWritten.length > 0 ? s.tablesWritten : s.tablesRead).map((t) => formatTable(resolveTable(t, currentDb)));
  const uniq = [...new Set(tables)];
  return uniq.length > 0 ? `${verb} on ${uniq.slice(0, 3).join(', ')}${uniq.length > 3 ? ', …' : ''}` : verb;
}

const OBJECT_WORDS = new Set([
  'TABLE', 'TABLES', 'DATABASE', 'SCHEMA', 'USER', 'ROLE', 'VIEW', 'INDEX', 'PROCEDURE', 'FUNCTION', 'TRIGGER',
  'EVENT', 'DATA', 'PLUGIN', 'SONAME', 'GLOBAL', 'PERSIST', 'PASSWORD', 'TEMPORARY', 'SEQUENCE', 'SERVER',
]);
