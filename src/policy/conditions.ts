import type { RuleConfig } from '../config/types.ts';
import type { StatementKind } from '../sql/types.ts';
import type { Tri } from './oracle.ts';
import { compileTablePattern, formatTable, statementTables, type TablePattern } from './patterns.ts';
import type { Judged } from './statements.ts';

/**
 * The conditions of a policy rule, evaluated against one statement in three values: holds, does not hold, or
 * cannot be known (the statement could not be parsed, its tables or WHERE are unknown). What "unknown" means is
 * decided by the caller from the rule's action: deny and approve rules fail closed (match), allow rules do not.
 */

export interface CompiledRule {
  readonly rule: RuleConfig;
  readonly tables: readonly TablePattern[] | null;
}

export function compileRule(rule: RuleConfig): CompiledRule {
  return { rule, tables: rule.tables ? rule.tables.map(compileTablePattern) : null };
}

export interface Condition {
  result: Tri | 'needs-estimate';
  /** A short clause: `kind drop`, `table app.payments`, `tables are not known`, … */
  why: string;
}

const WRITE_KINDS: ReadonlySet<StatementKind> = new Set<StatementKind>(['update', 'delete']);

/** Whether the statement is an UPDATE or DELETE, as far as can be told. */
function isUpdateOrDelete(j: Judged): Tri {
  if (j.unknown) return 'unknown';
  const k = j.info.kinds;
  if (k.some((x) => WRITE_KINDS.has(x))) return true;
  // An unparsed statement the lexer could not name may still be one.
  if (!j.info.parsed && (k.includes('other') || k.length === 0)) return 'unknown';
  return false;
}

// Each condition says why it holds or not only when `words` is set: `decide` runs on every statement and needs
// the words of the deciding rule alone (it evaluates that one again with words), `explain` needs them all.

function kindsCondition(r: CompiledRule, j: Judged, words: boolean): Condition {
  const want = r.rule.kinds!;
  const have = j.info.kinds;
  if (j.unknown || have.length === 0) return { result: 'unknown', why: 'its kinds are not known' };
  if (r.rule.action === 'allow') {
    // An allow rule vouches only for what it names: `kinds: [select]` must not let `SELECT … INTO OUTFILE`
    // (select + into_outfile) through, so every kind the statement carries has to be listed.
    // `select` alone is implied by another listed kind: every query block adds it (`UPDATE … WHERE id IN
    // (SELECT …)` is update+select, `INSERT … SELECT` insert+select), and reading is never more than the write.
    const implied = have.some((k) => k !== 'select' && want.includes(k));
    const missing = (k: StatementKind) => !want.includes(k) && !(k === 'select' && implied);
    if (!have.some(missing)) return { result: true, why: words ? `kind ${have.join('+')}` : '' };
    return { result: false, why: words ? `it is also ${have.filter(missing).join('+')}, which this allow rule does not list` : '' };
  }
  if (have.some((k) => want.includes(k))) return { result: true, why: words ? `kind ${have.filter((k) => want.includes(k)).join('+')}` : '' };
  return { result: false, why: words ? `kind ${have.join('+')} is not among ${want.join(', ')}` : '' };
}

function tablesCondition(r: CompiledRule, j: Judged, currentDb: string | null, words: boolean): Condition {
  if (j.unknown) return { result: 'unknown', why: 'its tables are not known' };
  const s = j.info;
  if (!s.parsed) return { result: 'unknown', why: 'its tables are not known (it could not be parsed)' };
  if (s.kinds.includes('call')) return { result: 'unknown', why: 'the tables a procedure touches are not known' };
  const tables = statementTables(s, currentDb);
  let maybe: string | null = null;
  for (const t of tables) {
    for (const p of r.tables!) {
      // `*` in the statement's table is every table of that database (DROP DATABASE, GRANT ON db.*).
      const tableOk = p.table === null || p.table === t.table || t.table === '*';
      if (!tableOk) continue;
      if (p.db === null || p.db === t.db || t.db === '*') return { result: true, why: words ? `table ${formatTable(t)}` : '' };
      if (t.db === null) maybe ??= `table ${t.table} has no database and no current database is selected`;
    }
  }
  if (maybe !== null) return { result: 'unknown', why: maybe };
  if (!words) return { result: false, why: '' };
  const list = tables.map(formatTable);
  return {
    result: false,
    why: list.length === 0 ? 'it touches no table' : `${list.join(', ')} ${list.length === 1 ? 'is' : 'are'} not among ${r.rule.tables!.join(', ')}`,
  };
}

function unboundedCondition(r: CompiledRule, j: Judged): Condition {
  const want = r.rule.unboundedWrite!;
  const w = isUpdateOrDelete(j);
  if (w === false) return { result: false, why: 'it is not an UPDATE or DELETE' };
  const v = j.info.parsed && !j.unknown ? j.info.unboundedWrite : null;
  if (w === 'unknown' || v === null) {
    return { result: 'unknown', why: w === 'unknown' ? 'whether it writes rows is not known' : 'whether its WHERE limits the rows is not known' };
  }
  if (v === want) {
    return { result: true, why: v ? 'it has no WHERE that limits the rows, so it can touch every row' : 'its WHERE limits the rows' };
  }
  return { result: false, why: v ? 'it can touch every row' : 'its WHERE limits the rows' };
}

function minRowsCondition(r: CompiledRule, j: Judged, estimatedRows: number | undefined, words: boolean): Condition {
  const n = r.rule.minRows!;
  const w = isUpdateOrDelete(j);
  if (w === false) return { result: false, why: 'minRows applies to UPDATE and DELETE only' };
  if (estimatedRows === undefined) return { result: 'needs-estimate', why: words ? `needs the row estimate to compare with ${n}` : '' };
  if (!words) return { result: estimatedRows >= n, why: '' };
  if (estimatedRows >= n) {
    return { result: true, why: `the estimate is ${Number.isFinite(estimatedRows) ? estimatedRows : 'unknown (treated as unlimited)'} rows, at least ${n}` };
  }
  return { result: false, why: `the estimate is ${estimatedRows} rows, fewer than ${n}` };
}

export type RuleOutcome =
  | { kind: 'match'; failClosed: boolean; why: string }
  | { kind: 'no'; why: string }
  | { kind: 'needs-estimate'; why: string };

/**
 * Evaluates every condition a rule sets against one statement; a rule without conditions matches everything.
 * With `words` false the outcome's `why` may be empty (see above).
 */
export function evaluateRule(r: CompiledRule, j: Judged, currentDb: string | null, estimatedRows: number | undefined, words = true): RuleOutcome {
  const rule = r.rule;
  const conds: Condition[] = [];
  if (rule.kinds) conds.push(kindsCondition(r, j, words));
  if (r.tables) conds.push(tablesCondition(r, j, currentDb, words));
  if (rule.unboundedWrite !== undefined) conds.push(unboundedCondition(r, j));
  if (rule.minRows !== undefined) conds.push(minRowsCondition(r, j, estimatedRows, words));

  const failed = conds.find((c) => c.result === false);
  if (failed) return { kind: 'no', why: failed.why };
  const unknown = conds.filter((c) => c.result === 'unknown');
  const allow = rule.action === 'allow';
  if (allow && (!j.info.parsed || j.unknown)) {
    return { kind: 'no', why: 'an allow rule never vouches for a statement that could not be parsed' };
  }
  if (allow && unknown.length > 0) {
    return { kind: 'no', why: words ? `an allow rule must be sure, and ${unknown.map((c) => c.why).join('; ')}` : '' };
  }
  const pending = conds.find((c) => c.result === 'needs-estimate');
  if (pending) return { kind: 'needs-estimate', why: pending.why };
  if (!words) return unknown.length > 0 ? { kind: 'match', failClosed: true, why: '' } : { kind: 'match', failClosed: false, why: '' };
  const held = conds.filter((c) => c.result === true).map((c) => c.why);
  if (unknown.length > 0) {
    const known = held.length > 0 ? `${held.join(', ')}; ` : '';
    return { kind: 'match', failClosed: true, why: `${known}${unknown.map((c) => c.why).join('; ')}` };
  }
  return { kind: 'match', failClosed: false, why: held.length > 0 ? held.join(', ') : 'the rule has no conditions' };
}
