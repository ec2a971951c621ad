// Is a WHERE clause true for every row? Used for `unboundedWrite`. We only recognise clear cases and answer
// "unknown" otherwise (see README.md): constant conditions (`1`, `TRUE`, `'1'`, `1=1`, `'a'='a'`, `NOT FALSE`,
// `2>1`, `1 IN (1,2)`), a column compared with itself (`x=x`, `x<=>x`, `x>=x`), `x IS NULL OR x IS NOT NULL`,
// `A OR NOT A`, `x LIKE '%'`, and any OR with such an operand. `x=x` and `x LIKE '%'` skip NULL rows, which we
// still count as "every row": the intent is the same.
import type { Expr } from './ast.ts';

/** T: true for every row; F: false for every row; N: NULL for every row; U: depends on the row / unknown. */
export type Truth = 'T' | 'F' | 'N' | 'U';

export interface TruthResult {
  truth: Truth;
  /** A literal's value decided the answer (so the same fingerprint with other literals may differ). */
  literalDependent: boolean;
}

type Val = { ok: true; v: number | string | null } | { ok: false };
const UNKNOWN: Val = { ok: false };

export function whereTruth(e: Expr): TruthResult {
  const ctx = { lit: false };
  const truth = truthOf(e, ctx);
  return { truth, literalDependent: ctx.lit };
}

/** MySQL's string-to-number conversion: the longest numeric prefix, 0 when none. */
function toNumber(v: number | string): number {
  if (typeof v === 'number') return v;
  const m = /^\s*[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?/i.exec(v);
  return m === null ? 0 : Number(m[0]);
}

function constValue(e: Expr, ctx: { lit: boolean }): Val {
  switch (e.k) {
    case 'lit':
      return { ok: true, v: typeof e.v === 'boolean' ? (e.v ? 1 : 0) : e.v };
    case 'un': {
      const v = constValue(e.e, ctx);
      if (!v.ok) return UNKNOWN;
      if (v.v === null) return v;
      if (e.op === '-') return { ok: true, v: -toNumber(v.v) };
      if (e.op === '+') return v;
      if (e.op === 'NOT' || e.op === '!') return { ok: true, v: toNumber(v.v) === 0 ? 1 : 0 };
      return UNKNOWN;
    }
    case 'bin': {
      if (e.op === '+' || e.op === '-' || e.op === '*' || e.op === '/') {
        const l = constValue(e.l, ctx);
        const r = constValue(e.r, ctx);
        if (!l.ok || !r.ok) return UNKNOWN;
        if (l.v === null || r.v === null) return { ok: true, v: null };
        const a = toNumber(l.v), b = toNumber(r.v);
        if (e.op === '+') return { ok: true, v: a + b };
        if (e.op === '-') return { ok: true, v: a - b };
        if (e.op === '*') return { ok: true, v: a * b };
        return b === 0 ? { ok: true, v: null } : { ok: true, v: a / b };
      }
      const t = truthOf(e, ctx);
      return t === 'T' ? { ok: true, v: 1 } : t === 'F' ? { ok: true, v: 0 } : t === 'N' ? { ok: true, v: null } : UNKNOWN;
    }
    default:
      return UNKNOWN;
  }
}

function fromValue(v: number | string | null): Truth {
  if (v === null) return 'N';
  return toNumber(v) !== 0 ? 'T' : 'F';
}

function compare(op: string, a: number | string, b: number | string): boolean | null {
  let c: number;
  if (typeof a === 'string' && typeof b === 'string') {
    // default collations are case-insensitive and ignore trailing spaces
    const x = a.toLowerCase().replace(/ +$/, ''), y = b.toLowerCase().replace(/ +$/, '');
    c = x < y ? -1 : x > y ? 1 : 0;
  } else {
    const x = toNumber(a), y = toNumber(b);
    c = x < y ? -1 : x > y ? 1 : 0;
  }
  switch (op) {
    case '=': case '<=>': return c === 0;
    case '<>': case '!=': return c !== 0;
    case '<': return c < 0;
    case '>': return c > 0;
    case '<=': return c <= 0;
    case '>=': return c >= 0;
    default: return null;
  }
}

/** A structural key for "the same expression" checks; null when not comparable. */
export function exprKey(e: Expr): string | null {
  switch (e.k) {
    case 'col': return 'c:' + e.parts.join('.');
    case 'lit': return 'l:' + String(e.v);
    case 'bin': {
      const l = exprKey(e.l), r = exprKey(e.r);
      return l === null || r === null ? null : `(${l} ${e.op} ${r})`;
    }
    case 'un': {
      const x = exprKey(e.e);
      return x === null ? null : `${e.op}(${x})`;
    }
    case 'func': {
      if (e.over !== null) return null;
      const args = e.args.map(exprKey);
      if (args.some((a) => a === null) || /RAND|UUID|SLEEP|NOW|SYSDATE/.test(e.name)) return null;
      return `${e.name}(${args.join(',')})`;
    }
    case 'is': {
      const x = exprKey(e.e);
      return x === null ? null : `is(${x},${e.not},${e.what})`;
    }
    default:
      return null;
  }
}

function negate(t: Truth): Truth {
  return t === 'T' ? 'F' : t === 'F' ? 'T' : t;
}

function truthOf(e: Expr, ctx: { lit: boolean }): Truth {
  switch (e.k) {
    case 'lit':
      ctx.lit = true;
      return fromValue(typeof e.v === 'boolean' ? (e.v ? 1 : 0) : e.v);
    case 'un':
      if (e.op === 'NOT' || e.op === '!') return negate(truthOf(e.e, ctx));
      {
        const v = constValue(e, ctx);
        if (v.ok) ctx.lit = true;
        return v.ok ? fromValue(v.v) : 'U';
      }
    case 'is': {
      if (e.what === 'NULL') {
        const v = constValue(e.e, ctx);
        if (!v.ok) return 'U';
        ctx.lit = true;
        return (v.v === null) !== e.not ? 'T' : 'F';
      }
      const inner = truthOf(e.e, ctx);
      if (inner === 'U') return 'U';
      const want = e.what === 'TRUE' ? 'T' : e.what === 'FALSE' ? 'F' : 'N';
      return (inner === want) !== e.not ? 'T' : 'F';
    }
    case 'bin': {
      if (e.op === 'AND') {
        const l = truthOf(e.l, ctx), r = truthOf(e.r, ctx);
        if (l === 'F' || r === 'F') return 'F';
        if (l === 'T' && r === 'T') return 'T';
        return l === 'U' || r === 'U' ? 'U' : 'N';
      }
      if (e.op === 'OR') {
        const l = truthOf(e.l, ctx), r = truthOf(e.r, ctx);
        if (l === 'T' || r === 'T') return 'T';
        if (complementary(e.l, e.r)) return 'T';
        if (l === 'F' && r === 'F') return 'F';
        return l === 'U' || r === 'U' ? 'U' : 'N';
      }
      if (e.op === 'XOR') {
        const l = truthOf(e.l, ctx), r = truthOf(e.r, ctx);
        if ((l === 'T' || l === 'F') && (r === 'T' || r === 'F')) return l !== r ? 'T' : 'F';
        return l === 'U' || r === 'U' ? 'U' : 'N';
      }
      if (e.op === 'LIKE') {
        const r = constValue(e.r, ctx);
        if (r.ok && typeof r.v === 'string' && /^%+$/.test(r.v)) {
          ctx.lit = true;
          const l = constValue(e.l, ctx);
          return l.ok && l.v === null ? 'N' : 'T';
        }
      }
      const lk = exprKey(e.l);
      if (lk !== null && !lk.startsWith('l:') && lk === exprKey(e.r)) {
        if (e.op === '=' || e.op === '<=>' || e.op === '>=' || e.op === '<=') return 'T';
        if (e.op === '<>' || e.op === '!=' || e.op === '<' || e.op === '>') return 'F';
      }
      const l = constValue(e.l, ctx), r = constValue(e.r, ctx);
      if (l.ok && r.ok) {
        ctx.lit = true;
        if (e.op === '<=>') return (l.v === null && r.v === null) || (l.v !== null && r.v !== null && compare('=', l.v, r.v)) ? 'T' : 'F';
        if (l.v === null || r.v === null) return 'N';
        const c = compare(e.op, l.v, r.v);
        if (c !== null) return c ? 'T' : 'F';
        const v = constValue(e, ctx);
        return v.ok ? fromValue(v.v) : 'U';
      }
      return 'U';
    }
    case 'in': {
      const v = constValue(e.e, ctx);
      if (!v.ok) return 'U';
      let any = false;
      for (const x of e.list) {
        const w = constValue(x, ctx);
        if (!w.ok) return 'U';
        if (v.v !== null && w.v !== null && compare('=', v.v, w.v)) any = true;
      }
      ctx.lit = true;
      if (v.v === null) return 'N';
      return any !== e.not ? 'T' : 'F';
    }
    case 'between': {
      const v = constValue(e.e, ctx), lo = constValue(e.lo, ctx), hi = constValue(e.hi, ctx);
      if (!v.ok || !lo.ok || !hi.ok) return 'U';
      ctx.lit = true;
      if (v.v === null || lo.v === null || hi.v === null) return 'N';
      const inside = compare('>=', v.v, lo.v)! && compare('<=', v.v, hi.v)!;
      return inside !== e.not ? 'T' : 'F';
    }
    default:
      return 'U';
  }
}

/** `x IS NULL OR x IS NOT NULL`, `A OR NOT A`. */
function complementary(a: Expr, b: Expr): boolean {
  if (a.k === 'is' && b.k === 'is' && a.what === b.what && a.not !== b.not) {
    const x = exprKey(a.e);
    return x !== null && x === exprKey(b.e);
  }
  const neg = (x: Expr, y: Expr): boolean => x.k === 'un' && (x.op === 'NOT' || x.op === '!') && exprKey(x.e) !== null && exprKey(x.e) === exprKey(y);
  return neg(a, b) || neg(b, a);
}
