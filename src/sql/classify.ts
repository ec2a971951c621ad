// classify(): lexes (expanding executable comments), splits, parses each statement and falls back to the lexer
// when the parser does not understand one. Compound statements (stored-program bodies, MariaDB anonymous blocks)
// are flattened into the simple statements and conditions they contain.
import { tokenize } from './lexer.ts';
import type { LexResult, Token } from './lexer.ts';
import { splitTokens, tokenRangeText } from './split.ts';
import type { Segment } from './split.ts';
import { Parser } from './parser.ts';
import { Info, parseStatement } from './statement.ts';
import type { StatementContext } from './statement.ts';
import { fallbackInfo } from './fallback.ts';
import { fingerprintTokens } from './fingerprint.ts';
import { STATEMENT_KINDS } from './types.ts';
import type { Classification, ServerFlavor, StatementInfo, StatementKind } from './types.ts';

/** Nesting limit for PREPARE … FROM '…' inside PREPARE texts and similar recursion. */
const MAX_DEPTH = 4;

export function classify(sql: string, flavor: ServerFlavor): Classification {
  return classifyAt(sql, flavor, 0);
}

/** classify() of a text already tokenized with `tokenize(sql, flavor)`, for callers that looked at the tokens first. */
export function classifyTokenized(sql: string, flavor: ServerFlavor, lx: LexResult): Classification {
  return classifyAt(sql, flavor, 0, lx);
}

function classifyAt(sql: string, flavor: ServerFlavor, depth: number, lx: LexResult = tokenize(sql, flavor)): Classification {
  const c = classifyLexed(sql, flavor, lx, depth);
  if (flavor.noBackslashEscapes === undefined && lx.backslashInString) {
    // Under sql_mode NO_BACKSLASH_ESCAPES, 'a\' ends at the second quote and the rest reads differently.
    // The session's sql_mode is not known here: if the other reading classifies differently, fail closed.
    const alt = classifyLexed(sql, flavor, tokenize(sql, { ...flavor, noBackslashEscapes: true }), depth);
    if (alt.kinds.join() !== c.kinds.join() || alt.statements.length !== c.statements.length) {
      const texts = new Set(c.statements.map((s) => s.text));
      const extra = alt.statements.filter((s) => !texts.has(s.text)).map((s) => ({ ...s, parsed: false }));
      const statements = [...c.statements.map((s) => ({ ...s, parsed: false })), ...extra];
      return { ...c, statements, kinds: unionKinds(statements), parsed: false, literalDependent: true };
    }
  }
  return c;
}

function unionKinds(statements: StatementInfo[]): StatementKind[] {
  const set = new Set<StatementKind>();
  for (const s of statements) for (const k of s.kinds) set.add(k);
  return STATEMENT_KINDS.filter((k) => set.has(k));
}

function classifyLexed(sql: string, flavor: ServerFlavor, lx: LexResult, depth: number): Classification {
  const segs = splitTokens(lx.tokens, sql.length);
  const state = { literalDependent: false };
  const ctx: StatementContext = {
    classifyText(text: string): StatementInfo[] {
      if (depth >= MAX_DEPTH) return [fallbackInfo(text, [], 0, 0, text)];
      const inner = classifyAt(text, flavor, depth + 1);
      if (!inner.parsed) return inner.statements.map((s) => ({ ...s, parsed: false }));
      return inner.statements;
    },
  };
  const statements: StatementInfo[] = [];
  const prints: string[] = [];
  for (const seg of segs) {
    statements.push(classifySegment(sql, flavor, lx, seg, ctx, state));
    prints.push(fingerprintTokens(sql, lx.tokens, seg.first, seg.last));
  }
  if (lx.error && statements.length > 0) {
    // Something was left unterminated: the server rejects the text, but we cannot be sure what it meant.
    const last = statements[statements.length - 1]!;
    statements[statements.length - 1] = {
      ...last,
      kinds: STATEMENT_KINDS.filter((k) => k === 'other' || last.kinds.includes(k)),
      parsed: false,
    };
  }
  let parsed = true;
  for (const s of statements) if (!s.parsed) parsed = false;
  if (lx.error) parsed = false;
  const result: Classification = {
    kinds: unionKinds(statements),
    statements,
    fingerprint: prints.join(' ; '),
    parsed,
    literalDependent: state.literalDependent,
  };
  if (statements.length === 0) {
    // Only comments or nothing at all: the server answers "Query was empty".
    result.kinds = lx.error ? ['other'] : [];
  }
  return result;
}

function classifySegment(sql: string, flavor: ServerFlavor, lx: LexResult, seg: Segment, ctx: StatementContext,
  state: { literalDependent: boolean }): StatementInfo {
  const toks = lx.tokens;
  const text = tokenRangeText(sql, lx, seg.first, seg.last);
  const cs = seg.compound;
  if (cs !== null && cs.bodyStart >= 0) {
    const body = flatten(sql, flavor, lx, cs.mode === 'block' ? seg.first : cs.bodyStart, seg.last, ctx, state);
    if (cs.mode === 'block') {
      // An anonymous block runs now: it does what its statements do. Control flow is not analysed: fail closed.
      const info = new Info();
      for (const s of body) info.absorb(s, true);
      info.parsed = false;
      info.body = body;
      const r = info.finish(text);
      r.parsed = false;
      return r;
    }
    const head = simpleStatement(sql, flavor, toks, seg.first, seg.last, text, ctx, state);
    head.body = body;
    if (seg.unbalanced) {
      // We could not find where the body ends; what we took for the body may run now.
      const info = new Info();
      info.absorb(head, true);
      for (const s of body) info.absorb(s, true);
      const r = info.finish(text);
      r.body = body;
      r.parsed = false;
      if (head.object !== undefined) r.object = head.object;
      return r;
    }
    return head;
  }
  return simpleStatement(sql, flavor, toks, seg.first, seg.last, text, ctx, state);
}

function simpleStatement(sql: string, flavor: ServerFlavor, toks: Token[], first: number, last: number, text: string,
  ctx: StatementContext, state: { literalDependent: boolean }): StatementInfo {
  const p = new Parser(sql, toks, first, last, flavor);
  const info = new Info();
  try {
    parseStatement(p, info, ctx);
  } catch {
    // ParseError, and also a RangeError from absurd nesting: never let a statement crash the classifier.
    return fallbackInfo(sql, toks, first, last, text);
  }
  if (p.literalDependent || info.an.literalDependent) state.literalDependent = true;
  return info.finish(text);
}

function isWord(t: Token | undefined, v: string): boolean {
  return t !== undefined && t.type === 'word' && t.value === v;
}

function isOp(t: Token | undefined, v: string): boolean {
  return t !== undefined && t.type === 'op' && t.value === v;
}

/** Index of the next `;` at or after k (or `end`). */
function nextSemicolon(toks: Token[], k: number, end: number): number {
  while (k < end && !isOp(toks[k], ';')) k++;
  return k;
}

/** Index of the first of `stops` at bracket depth 0 from k, skipping nested CASE … END; `end` if none. */
function findWord(toks: Token[], k: number, end: number, stops: Set<string>): number {
  let depth = 0;
  let cases = 0;
  for (; k < end; k++) {
    const t = toks[k]!;
    if (t.type === 'op') {
      if (t.value === '(') depth++;
      else if (t.value === ')') depth--;
      else if (t.value === ';' && depth <= 0) return k;
      continue;
    }
    if (t.type !== 'word' || depth > 0) continue;
    if (t.value === 'CASE') cases++;
    else if (t.value === 'END' && cases > 0) cases--;
    else if (cases === 0 && stops.has(t.value)) return k;
  }
  return end;
}

const COND_END = new Set(['THEN', 'DO']);
const UNTIL_END = new Set(['END']);
const CASE_OPERAND_END = new Set(['WHEN']);
const SKIP_STATEMENTS = new Set(['OPEN', 'CLOSE', 'FETCH', 'LEAVE', 'ITERATE', 'SIGNAL', 'RESIGNAL', 'GET']);

/**
 * The simple statements and conditions inside a compound body, each classified. Conditions (IF/WHILE/UNTIL/
 * WHEN/RETURN expressions) are analysed as predicates: a subquery there reads tables and may act as an oracle.
 */
function flatten(sql: string, flavor: ServerFlavor, lx: LexResult, from: number, to: number, ctx: StatementContext,
  state: { literalDependent: boolean }): StatementInfo[] {
  const toks = lx.tokens;
  const out: StatementInfo[] = [];
  const slice = (a: number, b: number): string => tokenRangeText(sql, lx, a, b);
  const condition = (a: number, b: number): void => {
    if (b <= a) return;
    const p = new Parser(sql, toks, a, b, flavor);
    const info = new Info();
    try {
      const e = p.expr();
      if (!p.atEnd()) p.fail('trailing tokens in condition');
      info.an.predicates(e, info.an.newScope(null, null));
      const s = info.finish(slice(a, b));
      // a condition is not a statement of its own: it carries only the kinds of its subqueries
      s.kinds = s.kinds.filter((k) => k !== 'other');
      out.push(s);
    } catch {
      out.push(fallbackInfo(sql, toks, a, b, slice(a, b)));
    }
  };
  let i = from;
  while (i < to) {
    const t = toks[i]!;
    if (isOp(t, ';')) {
      i++;
      continue;
    }
    if ((t.type === 'word' || t.type === 'qident') && isOp(toks[i + 1], ':')) {
      i += 2; // label
      continue;
    }
    if (t.type !== 'word') {
      const e = nextSemicolon(toks, i, to);
      out.push(fallbackInfo(sql, toks, i, e, slice(i, e)));
      i = e;
      continue;
    }
    switch (t.value) {
      case 'BEGIN':
        i += isWord(toks[i + 1], 'NOT') && isWord(toks[i + 2], 'ATOMIC') ? 3 : 1;
        continue;
      case 'END':
        i = nextSemicolon(toks, i, to);
        continue;
      case 'ELSE':
      case 'LOOP':
      case 'REPEAT':
        i++;
        continue;
      case 'IF':
      case 'ELSEIF':
      case 'WHILE':
      case 'WHEN': {
        const e = findWord(toks, i + 1, to, COND_END);
        condition(i + 1, e);
        i = e + 1;
        continue;
      }
      case 'FOR': {
        // FOR x IN <range or (query)> DO
        const e = findWord(toks, i + 1, to, COND_END);
        const inAt = findWord(toks, i + 1, e, new Set(['IN']));
        if (inAt < e && isOp(toks[inAt + 1], '(')) condition(inAt + 1, e);
        i = e + 1;
        continue;
      }
      case 'UNTIL': {
        const e = findWord(toks, i + 1, to, UNTIL_END);
        condition(i + 1, e);
        i = e;
        continue;
      }
      case 'CASE': {
        const e = findWord(toks, i + 1, to, CASE_OPERAND_END);
        condition(i + 1, e);
        i = e;
        continue;
      }
      case 'RETURN': {
        const e = nextSemicolon(toks, i, to);
        condition(i + 1, e);
        i = e;
        continue;
      }
      case 'DECLARE': {
        const e = nextSemicolon(toks, i, to);
        const cursorFor = findWord(toks, i + 1, e, new Set(['CURSOR']));
        const handler = findWord(toks, i + 1, e, new Set(['HANDLER']));
        if (cursorFor < e && isWord(toks[cursorFor + 1], 'FOR')) {
          // DECLARE c CURSOR FOR <select>: the query runs at OPEN c.
          out.push(simpleStatement(sql, flavor, toks, cursorFor + 2, e, slice(cursorFor + 2, e), ctx, state));
          i = e;
        } else if (handler < e) {
          // DECLARE … HANDLER FOR cond[, cond…] <statement>
          let j = handler + 1;
          if (isWord(toks[j], 'FOR')) j++;
          for (;;) {
            if (isWord(toks[j], 'SQLSTATE')) j += isWord(toks[j + 1], 'VALUE') ? 3 : 2;
            else if (isWord(toks[j], 'NOT') && isWord(toks[j + 1], 'FOUND')) j += 2;
            else j++;
            if (!isOp(toks[j], ',')) break;
            j++;
          }
          i = j;
        } else {
          i = e;
        }
        continue;
      }
      default: {
        if (SKIP_STATEMENTS.has(t.value)) {
          i = nextSemicolon(toks, i, to);
          continue;
        }
        // A simple statement; a nested compound one (CASE … END CASE etc.) is handled by the cases above.
        const e = nextSemicolon(toks, i, to);
        out.push(simpleStatement(sql, flavor, toks, i, e, slice(i, e), ctx, state));
        i = e;
      }
    }
  }
  return out;
}

export type { Segment };
