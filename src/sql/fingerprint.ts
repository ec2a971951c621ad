// A literal-normalised fingerprint, computed from the tokens (so after executable comments were expanded and
// with comments gone): literals become `?`, `IN (?, ?, …)` becomes `IN (...)`, repeated VALUES tuples of only
// literals collapse to one, keywords are upper-cased and tokens are joined by single spaces. Identifiers keep
// their spelling (quoted ones are re-quoted with backticks), so `users` and `Users` differ, as they may on the
// server.
import type { Token } from './lexer.ts';
import { FINGERPRINT_KEYWORDS } from './keywords.ts';

function isLiteral(t: Token): boolean {
  if (t.type === 'string' || t.type === 'number' || t.type === 'hex' || t.type === 'bit' || t.type === 'param') return true;
  return t.type === 'word' && (t.value === 'TRUE' || t.value === 'FALSE');
}

/** Fingerprint of tokens [first, last) of `sql`; statements are separated by ` ; ` by the caller. */
export function fingerprintTokens(sql: string, toks: Token[], first: number, last: number): string {
  const out: string[] = [];
  let prevLiteral = false;
  for (let i = first; i < last; i++) {
    const t = toks[i]!;
    if (isLiteral(t)) {
      // `_utf8mb4 'x'`: drop the introducer; `- 1`: fold a unary minus into the literal.
      const prev = out[out.length - 1];
      if (prev !== undefined && prev.charCodeAt(0) === 95 /* _ */ && i > first && toks[i - 1]!.type === 'word') out.pop();
      else if (prev === '-' && i - 2 >= first && isOperandEnd(toks[i - 2]!) === false) out.pop();
      if (prevLiteral && t.type === 'string') continue; // 'a' 'b' is one literal
      out.push('?');
      prevLiteral = true;
      continue;
    }
    prevLiteral = false;
    switch (t.type) {
      case 'word':
        out.push(FINGERPRINT_KEYWORDS.has(t.value) ? t.value : sql.slice(t.start, t.end));
        break;
      case 'qident':
        out.push('`' + t.value.replace(/`/g, '``') + '`');
        break;
      case 'var':
        out.push(sql.slice(t.start, t.end));
        break;
      case 'sysvar':
        out.push('@@' + t.value);
        break;
      case 'null':
        out.push('NULL');
        break;
      case 'op':
        if (t.value === ')') {
          collapseList(out);
          out.push(')');
          collapseTuples(out);
        } else {
          out.push(t.value);
        }
        break;
      default:
        out.push(sql.slice(t.start, t.end));
    }
  }
  return out.join(' ');
}

function isOperandEnd(t: Token): boolean {
  if (t.type === 'op') return t.value === ')';
  if (t.type === 'word') return !FINGERPRINT_KEYWORDS.has(t.value) || t.value === 'NULL' || t.value === 'TRUE' || t.value === 'FALSE';
  return true;
}

/** `IN ( ? , ? , ? ` → `IN ( ...` when the list holds only literals. */
function collapseList(out: string[]): void {
  let k = out.length - 1;
  let n = 0;
  while (k >= 0 && out[k] === '?') {
    n++;
    if (k - 1 >= 0 && out[k - 1] === ',') k -= 2;
    else {
      k--;
      break;
    }
  }
  if (n === 0 || k < 1 || out[k] !== '(' || out[k - 1] !== 'IN') return;
  out.length = k + 1;
  out.push('...');
}

/** `VALUES ( ? , ? ) , ( ? , ? )` → `VALUES ( ? , ? )`: multi-row inserts share a fingerprint. */
function collapseTuples(out: string[]): void {
  // out ends with `)`; find the tuple and, if the tokens before it are `) ,` of an identical tuple, drop it.
  const end = out.length;
  let open = end - 1;
  while (open >= 0 && out[open] !== '(') open--;
  if (open < 2 || out[open - 1] !== ',' || out[open - 2] !== ')') return;
  const len = end - open;
  const prevStart = open - 1 - len;
  if (prevStart < 0) return;
  for (let k = 0; k < len; k++) {
    const a = out[prevStart + k]!, b = out[open + k]!;
    if (a !== b || !(a === '?' || a === ',' || a === '(' || a === ')')) return;
  }
  out.length = open - 1;
}
