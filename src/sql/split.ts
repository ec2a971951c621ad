// Splits a token stream into statements on `;`, the way the server does when a client sends several statements
// in one COM_QUERY (CLIENT_MULTI_STATEMENTS). `DELIMITER` is a command of the mysql client and never reaches the
// server, so it is not recognised here.
//
// The server's parser does not end a compound statement at a `;` inside its body: `CREATE PROCEDURE … BEGIN …;
// … END` is one statement, and so are MariaDB's anonymous blocks (`BEGIN NOT ATOMIC … END`, and `IF`, `CASE`,
// `LOOP`, `WHILE`, `REPEAT`, `FOR` used outside stored programs). We follow block nesting with a depth counter.
import { tokenize } from './lexer.ts';
import type { Token, LexResult } from './lexer.ts';
import type { ServerFlavor } from './types.ts';

export type CompoundMode = 'routine' | 'block' | null;

export interface Segment {
  /** Token index range [first, last). Never empty. */
  first: number;
  last: number;
  /** Original-text range [rawStart, rawEnd) covering the statement, its `;` and the blanks around it. */
  rawStart: number;
  rawEnd: number;
  compound: CompoundStart | null;
  /** The text ended inside a BEGIN … END (or similar) block: our reading of the blocks may differ from the server's. */
  unbalanced: boolean;
}

function isWord(t: Token | undefined, v: string): boolean {
  return t !== undefined && t.type === 'word' && t.value === v;
}

function isOp(t: Token | undefined, v: string): boolean {
  return t !== undefined && t.type === 'op' && t.value === v;
}

const ROUTINE_OBJECTS = new Set(['PROCEDURE', 'FUNCTION', 'TRIGGER', 'EVENT', 'PACKAGE']);
const NON_ROUTINE_OBJECTS = new Set(['TABLE', 'VIEW', 'INDEX', 'DATABASE', 'SCHEMA', 'USER', 'ROLE', 'SERVER',
  'SEQUENCE', 'TABLESPACE', 'TEMPORARY', 'UNIQUE', 'FULLTEXT', 'SPATIAL', 'LOGFILE']);
const BLOCK_STARTS = new Set(['IF', 'CASE', 'LOOP', 'WHILE', 'REPEAT', 'FOR']);

/** Where a stored program's body begins, as found by compoundModeAt. */
export interface CompoundStart {
  mode: Exclude<CompoundMode, null>;
  /** Token index of the first token of the body (for a block: the block itself); -1 when not found. */
  bodyStart: number;
  /** The object word (PROCEDURE, FUNCTION, …) for a routine; null for a block. */
  object: string | null;
}

/** Whether the statement starting at token `i` is a stored-program definition or an anonymous block. */
export function compoundModeAt(tokens: Token[], i: number, end: number = tokens.length): CompoundStart | null {
  const t = tokens[i];
  if (t === undefined || t.type !== 'word') return null;
  if (t.value === 'CREATE' || t.value === 'ALTER') {
    for (let k = i + 1; k < end && k < i + 24; k++) {
      const u = tokens[k]!;
      if (isOp(u, ';')) return null;
      if (u.type !== 'word') continue;
      if (NON_ROUTINE_OBJECTS.has(u.value)) return null;
      if (ROUTINE_OBJECTS.has(u.value)) {
        if (t.value === 'ALTER' && u.value !== 'EVENT') return null;
        return { mode: 'routine', bodyStart: routineBodyStart(tokens, k, end), object: u.value };
      }
    }
    return null;
  }
  if (t.value === 'BEGIN') {
    return isWord(tokens[i + 1], 'NOT') && isWord(tokens[i + 2], 'ATOMIC') ? { mode: 'block', bodyStart: i, object: null } : null;
  }
  if (BLOCK_STARTS.has(t.value)) return { mode: 'block', bodyStart: i, object: null };
  // `label: BEGIN NOT ATOMIC …` / `label: LOOP …`
  if (isOp(tokens[i + 1], ':') && tokens[i + 2]?.type === 'word') return { mode: 'block', bodyStart: i, object: null };
  return null;
}

const TYPE_MODIFIERS = new Set(['UNSIGNED', 'SIGNED', 'ZEROFILL', 'BINARY', 'ASCII', 'UNICODE', 'BYTE']);
const CHARACTERISTIC_WORDS = new Set(['LANGUAGE', 'NOT', 'DETERMINISTIC', 'CONTAINS', 'NO', 'READS', 'MODIFIES',
  'SQL', 'DATA', 'SECURITY', 'DEFINER', 'INVOKER']);

function skipParens(tokens: Token[], k: number, end: number): number {
  // tokens[k] is '('; returns the index after the matching ')'
  let depth = 0;
  for (; k < end; k++) {
    const t = tokens[k]!;
    if (t.type !== 'op') continue;
    if (t.value === '(') depth++;
    else if (t.value === ')' && --depth === 0) return k + 1;
    else if (t.value === ';') return k;
  }
  return end;
}

/** Token index where the body of CREATE PROCEDURE/FUNCTION/TRIGGER/EVENT begins (after its header); -1 if none. */
function routineBodyStart(tokens: Token[], objAt: number, end: number): number {
  const obj = tokens[objAt]!.value;
  let k = objAt + 1;
  if (obj === 'EVENT') {
    for (; k < end; k++) {
      const t = tokens[k]!;
      if (isOp(t, ';')) return -1;
      if (isWord(t, 'DO')) return k + 1;
      if (isOp(t, '(')) k = skipParens(tokens, k, end) - 1;
    }
    return -1;
  }
  if (obj === 'TRIGGER') {
    for (; k < end; k++) {
      const t = tokens[k]!;
      if (isOp(t, ';')) return -1;
      if (isWord(t, 'EACH') && isWord(tokens[k + 1], 'ROW')) {
        k += 2;
        if (isWord(tokens[k], 'FOLLOWS') || isWord(tokens[k], 'PRECEDES')) k += 2;
        return k;
      }
    }
    return -1;
  }
  // PROCEDURE / FUNCTION: name ( params ) [RETURNS type] characteristics body
  while (k < end && !isOp(tokens[k], '(')) {
    if (isOp(tokens[k], ';') || isWord(tokens[k], 'SONAME')) return -1;
    k++;
  }
  if (k >= end) return -1;
  k = skipParens(tokens, k, end);
  if (isWord(tokens[k], 'RETURNS')) {
    k += 2; // RETURNS type
    if (isOp(tokens[k], '(')) k = skipParens(tokens, k, end);
    for (;;) {
      const t = tokens[k];
      if (t === undefined || t.type !== 'word') break;
      if (TYPE_MODIFIERS.has(t.value)) k++;
      else if (t.value === 'CHARSET' || t.value === 'COLLATE') k += 2;
      else if (t.value === 'CHARACTER' && isWord(tokens[k + 1], 'SET')) k += 3;
      else break;
    }
  }
  for (;;) {
    const t = tokens[k];
    if (t === undefined) return -1;
    if (isWord(t, 'COMMENT')) k += 2;
    else if (t.type === 'word' && CHARACTERISTIC_WORDS.has(t.value)) k++;
    else break;
  }
  return k < end ? k : -1;
}

type Frame = 'block' | 'case-stmt' | 'case-expr';

/**
 * Finds the end (exclusive token index) of the statement starting at `i`: its `;` at block depth 0. For compound
 * statements it follows statement starts inside bodies, because BEGIN (not reserved) and CASE (also an
 * expression) only open a block where a statement may begin. `unbalanced` is set when the text ends inside a block.
 */
export function statementEnd(tokens: Token[], i: number, end: number): { end: number; compound: CompoundStart | null; unbalanced: boolean } {
  const cs = compoundModeAt(tokens, i, end);
  let k = i;
  if (cs === null || cs.bodyStart < 0) {
    while (k < end && !isOp(tokens[k], ';')) k++;
    return { end: k, compound: cs, unbalanced: false };
  }
  while (k < cs.bodyStart) k++;
  const stack: Frame[] = [];
  let atStart = true; // a statement may begin at tokens[k]
  let handler = false; // inside DECLARE … HANDLER FOR <conditions>: the handler's statement follows
  while (k < end) {
    const t = tokens[k]!;
    if (t.type === 'op') {
      if (t.value === ';') {
        if (stack.length === 0) break;
        atStart = true;
        handler = false;
      } else if (t.value === ':' && atStart) {
        atStart = true; // label:
      } else {
        atStart = false;
      }
      k++;
      continue;
    }
    if (t.type !== 'word') {
      atStart = false;
      k++;
      continue;
    }
    const top = stack.length > 0 ? stack[stack.length - 1] : undefined;
    const v = t.value;
    const stmtStart = atStart || handler;
    atStart = false;
    if (v === 'END' && stack.length > 0) {
      stack.pop();
      const u = tokens[k + 1];
      k += u !== undefined && u.type === 'word' && BLOCK_STARTS.has(u.value) ? 2 : 1;
      continue;
    }
    if (v === 'CASE') {
      stack.push(stmtStart ? 'case-stmt' : 'case-expr');
      k++;
      continue;
    }
    if (stmtStart) {
      handler = false;
      if (v === 'BEGIN') {
        stack.push('block');
        atStart = true;
        if (isWord(tokens[k + 1], 'NOT') && isWord(tokens[k + 2], 'ATOMIC')) k += 2;
      } else if (v === 'LOOP' || v === 'REPEAT') {
        stack.push('block');
        atStart = true;
      } else if (v === 'IF' || v === 'WHILE' || (v === 'FOR' && !isWord(tokens[k + 1], 'UPDATE'))) {
        stack.push('block');
      } else if (tokens[k + 1] !== undefined && isOp(tokens[k + 1], ':')) {
        atStart = true; // a label
      }
      k++;
      continue;
    }
    if (v === 'THEN' || v === 'ELSE') {
      atStart = top !== 'case-expr';
    } else if (v === 'DO' && top !== undefined) {
      atStart = true;
    } else if (v === 'HANDLER' && top !== undefined) {
      handler = false;
      // DECLARE … HANDLER FOR cond[, cond…] statement: find where the condition list ends.
      let j = k + 1;
      if (isWord(tokens[j], 'FOR')) j++;
      for (;;) {
        const c = tokens[j];
        if (c === undefined) break;
        if (isWord(c, 'SQLSTATE')) {
          j += isWord(tokens[j + 1], 'VALUE') ? 3 : 2;
        } else if (isWord(c, 'NOT') && isWord(tokens[j + 1], 'FOUND')) {
          j += 2;
        } else {
          j++;
        }
        if (!isOp(tokens[j], ',')) break;
        j++;
      }
      k = j;
      atStart = true;
      continue;
    }
    k++;
  }
  return { end: Math.min(k, end), compound: cs, unbalanced: stack.length > 0 };
}

/** Splits a token stream; empty statements (`;;`) are dropped, their text joined to a neighbour's raw range. */
export function splitTokens(tokens: Token[], textLength: number): Segment[] {
  const out: Segment[] = [];
  const n = tokens.length;
  let i = 0;
  let rawStart = 0;
  while (i < n) {
    if (isOp(tokens[i], ';')) {
      i++;
      continue;
    }
    const r = statementEnd(tokens, i, n);
    const e = r.end;
    const rawEnd = e < n ? tokens[e]!.end : textLength;
    out.push({ first: i, last: e, rawStart, rawEnd, compound: r.compound, unbalanced: r.unbalanced });
    rawStart = rawEnd;
    i = e + 1;
  }
  if (out.length > 0) out[out.length - 1]!.rawEnd = textLength;
  return out;
}

/** The original text in [start, end) without the executable-comment markers the lexer removed. */
export function expandedSlice(sql: string, cuts: number[], start: number, end: number): string {
  if (cuts.length === 0) return sql.slice(start, end);
  let out = '';
  let from = start;
  for (let k = 0; k < cuts.length; k += 2) {
    const cs = cuts[k]!, ce = cuts[k + 1]!;
    if (ce <= from) continue;
    if (cs >= end) break;
    if (cs > from) out += sql.slice(from, cs);
    from = Math.max(from, ce);
  }
  if (from < end) out += sql.slice(from, end);
  return out;
}

/** The statement text of tokens [first, last): executable comments expanded, trimmed (as `StatementInfo.text`). */
export function tokenRangeText(sql: string, lx: LexResult, first: number, last: number): string {
  return expandedSlice(sql, lx.cuts, lx.tokens[first]!.start, lx.tokens[last - 1]!.end).trim();
}

export interface SplitStatement {
  /** The original text of this piece; joining every `raw` gives back the input. */
  raw: string;
  /** The statement after executable-comment expansion, trimmed, without its `;`. */
  text: string;
}

/** Splits a multi-statement text into statements (see the file comment). */
export function splitStatements(sql: string, flavor: ServerFlavor, lexed?: LexResult): SplitStatement[] {
  const lx = lexed ?? tokenize(sql, flavor);
  const segs = splitTokens(lx.tokens, sql.length);
  return segs.map((s) => ({
    raw: sql.slice(s.rawStart, s.rawEnd),
    text: tokenRangeText(sql, lx, s.first, s.last),
  }));
}
