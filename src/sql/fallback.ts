// Classification from tokens alone, for statements the parser does not understand. It over-approximates on
// purpose (every kind whose keyword appears where it could act, every name after FROM/JOIN/INTO/UPDATE/TABLE)
// and always reports parsed=false, so rules that must be sure fail closed.
import type { Token } from './lexer.ts';
import { STATEMENT_KINDS } from './types.ts';
import type { StatementInfo, StatementKind, TableRef } from './types.ts';

const FIRST_WORD: Record<string, StatementKind> = {
  SELECT: 'select', WITH: 'select', VALUES: 'select', TABLE: 'select', INSERT: 'insert', UPDATE: 'update',
  DELETE: 'delete', REPLACE: 'replace', CREATE: 'create', ALTER: 'alter', DROP: 'drop', TRUNCATE: 'truncate',
  RENAME: 'rename', GRANT: 'grant', REVOKE: 'revoke', SET: 'set', USE: 'use', SHOW: 'show', DESCRIBE: 'describe',
  DESC: 'describe', EXPLAIN: 'explain', ANALYZE: 'explain', CALL: 'call', DO: 'do', LOAD: 'load_data',
  LOCK: 'lock', UNLOCK: 'lock', BACKUP: 'lock', START: 'transaction', BEGIN: 'transaction', COMMIT: 'transaction',
  ROLLBACK: 'transaction', SAVEPOINT: 'transaction', RELEASE: 'transaction', XA: 'transaction', PREPARE: 'prepare',
  EXECUTE: 'prepare', DEALLOCATE: 'prepare', KILL: 'kill', FLUSH: 'flush', RESET: 'flush', HANDLER: 'select',
  OPTIMIZE: 'alter', REPAIR: 'alter',
};

/** Keywords that add a kind wherever they stand (outside the first position). */
const ANYWHERE: Record<string, StatementKind> = {
  SELECT: 'select', INSERT: 'insert', DELETE: 'delete', DROP: 'drop', TRUNCATE: 'truncate', GRANT: 'grant',
  REVOKE: 'revoke', CALL: 'call', PREPARE: 'prepare', EXECUTE: 'prepare', KILL: 'kill', RENAME: 'rename',
};

const READ_AFTER = new Set(['FROM', 'JOIN', 'STRAIGHT_JOIN']);
const WRITE_AFTER = new Set(['UPDATE', 'INTO', 'TABLE', 'TRUNCATE']);

function nameAt(sql: string, toks: Token[], k: number, last: number): TableRef | null {
  const t = toks[k];
  if (t === undefined || k >= last) return null;
  const part = (x: Token): string | null => x.type === 'qident' ? x.value.toLowerCase() : x.type === 'word' ? sql.slice(x.start, x.end).toLowerCase() : null;
  const a = part(t);
  if (a === null) return null;
  if (k + 2 < last && toks[k + 1]!.type === 'op' && toks[k + 1]!.value === '.') {
    const b = part(toks[k + 2]!);
    if (b !== null) return { db: a, table: b };
  }
  return { db: null, table: a };
}

const NOT_TABLE = new Set(['SELECT', 'DUAL', 'IF', 'EXISTS', 'NOT', 'OUTFILE', 'DUMPFILE', 'KEY', 'WITH', 'LATERAL',
  'ONLY', 'SET', 'VALUES', 'IGNORE', 'LOW_PRIORITY', 'QUICK', 'TABLE', 'TABLES']);

export function fallbackInfo(sql: string, toks: Token[], first: number, last: number, text: string): StatementInfo {
  const kinds = new Set<StatementKind>();
  const read: TableRef[] = [];
  const written: TableRef[] = [];
  let into: StatementInfo['into'] = null;
  let localInfile = false;
  let hasWhere = false;
  let hasLimit = false;
  const head = toks[first];
  if (head !== undefined && head.type === 'word') {
    const k = FIRST_WORD[head.value];
    if (k !== undefined) kinds.add(k);
  }
  let depth = 0;
  for (let i = first; i < last; i++) {
    const t = toks[i]!;
    if (t.type === 'op') {
      if (t.value === '(') depth++;
      else if (t.value === ')') depth--;
      continue;
    }
    if (t.type !== 'word') continue;
    const v = t.value;
    if (i > first) {
      const k = ANYWHERE[v];
      if (k !== undefined) kinds.add(k);
      if (depth <= 0 && (v === 'UPDATE' && !(toks[i - 1]?.value === 'FOR' || toks[i - 1]?.value === 'KEY'))) kinds.add('update');
      if (v === 'REPLACE' && !(toks[i + 1]?.type === 'op' && toks[i + 1]!.value === '(') && toks[i - 1]?.value !== 'OR') kinds.add('replace');
    }
    if (v === 'WHERE' && depth <= 0) hasWhere = true;
    if (v === 'LIMIT' && depth <= 0) hasLimit = true;
    if (v === 'OUTFILE' || v === 'DUMPFILE') {
      kinds.add('into_outfile');
      into = v === 'OUTFILE' ? 'outfile' : 'dumpfile';
    }
    if (v === 'INFILE') kinds.add('load_data');
    if (v === 'LOCAL' && toks[i + 1]?.value === 'INFILE') localInfile = true;
    if (v === 'INTO' && toks[i + 1]?.type === 'var' && into === null) into = 'variable';
    if (READ_AFTER.has(v) || WRITE_AFTER.has(v)) {
      let k = i + 1;
      while (k < last && toks[k]!.type === 'word' && NOT_TABLE.has(toks[k]!.value)) k++;
      const name = nameAt(sql, toks, k, last);
      if (name !== null && !(toks[k]!.type === 'word' && NOT_TABLE.has(toks[k]!.value))) {
        (READ_AFTER.has(v) ? read : written).push(name);
      }
    }
  }
  if (kinds.size === 0) kinds.add('other');
  const writes = kinds.has('update') || kinds.has('delete');
  return {
    kinds: STATEMENT_KINDS.filter((k) => kinds.has(k)),
    text,
    tablesRead: dedup(read),
    tablesWritten: dedup(written),
    unboundedWrite: writes ? !(hasWhere || hasLimit) : null,
    predicateColumns: [],
    outputColumns: null,
    into,
    localInfile,
    parsed: false,
  };
}

function dedup(ts: TableRef[]): TableRef[] {
  const seen = new Set<string>();
  return ts.filter((t) => {
    const k = `${t.db ?? ''}\u0000${t.table}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
