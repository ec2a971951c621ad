// The token cursor and the expression grammar of the recursive-descent parser. Operator precedence follows the
// MySQL manual ("Operator Precedence"), lowest first: := , OR/||, XOR, AND/&&, NOT, comparison/IS/LIKE/IN/
// BETWEEN/REGEXP, |, &, << >>, + -, * / DIV % MOD, ^, unary - ~ !, COLLATE/BINARY, INTERVAL.
import type { Token } from './lexer.ts';
import { stringValue } from './lexer.ts';
import type { Expr, Query, WindowSpec } from './ast.ts';
import { RESERVED } from './keywords.ts';
import { parseQuery, isQueryStart } from './parse-query.ts';
import type { ServerFlavor } from './types.ts';

export class ParseError extends Error {}

const EOF: Token = { type: 'op', start: 0, end: 0, value: '<eof>' };

/** Functions whose first argument is a unit keyword, not a column. */
const UNIT_FIRST = new Set(['TIMESTAMPADD', 'TIMESTAMPDIFF', 'GET_FORMAT']);
/** Niladic functions MySQL accepts without parentheses. */
const NILADIC = new Set(['CURRENT_DATE', 'CURRENT_TIME', 'CURRENT_TIMESTAMP', 'CURRENT_USER', 'LOCALTIME',
  'LOCALTIMESTAMP', 'UTC_DATE', 'UTC_TIME', 'UTC_TIMESTAMP', 'CURRENT_ROLE', 'SYSDATE']);
const COMPARISON = new Set(['=', '<=>', '<', '>', '<=', '>=', '<>', '!=']);

export class Parser {
  readonly toks: Token[];
  readonly src: string;
  readonly flavor: ServerFlavor;
  pos: number;
  readonly end: number;
  /** Set when a literal's value changed the classification (see Classification.literalDependent). */
  literalDependent = false;

  constructor(src: string, toks: Token[], first: number, last: number, flavor: ServerFlavor) {
    this.src = src;
    this.toks = toks;
    this.pos = first;
    this.end = last;
    this.flavor = flavor;
  }

  peek(o = 0): Token {
    const k = this.pos + o;
    return k < this.end ? this.toks[k]! : EOF;
  }
  atEnd(): boolean {
    return this.pos >= this.end;
  }
  next(): Token {
    if (this.pos >= this.end) throw new ParseError('unexpected end');
    return this.toks[this.pos++]!;
  }
  isWord(v: string, o = 0): boolean {
    const t = this.peek(o);
    return t.type === 'word' && t.value === v;
  }
  isOp(v: string, o = 0): boolean {
    const t = this.peek(o);
    return t.type === 'op' && t.value === v;
  }
  acceptWord(v: string): boolean {
    if (this.isWord(v)) {
      this.pos++;
      return true;
    }
    return false;
  }
  acceptOp(v: string): boolean {
    if (this.isOp(v)) {
      this.pos++;
      return true;
    }
    return false;
  }
  expectWord(v: string): void {
    if (!this.acceptWord(v)) this.fail(`expected ${v}`);
  }
  expectOp(v: string): void {
    if (!this.acceptOp(v)) this.fail(`expected '${v}'`);
  }
  fail(msg: string): never {
    const t = this.peek();
    throw new ParseError(`${msg} near ${t.value}`);
  }
  text(t: Token): string {
    return this.src.slice(t.start, t.end);
  }
  /** An identifier (bare non-reserved word or quoted), lower-cased. */
  ident(): string {
    const t = this.peek();
    if (t.type === 'qident') {
      this.pos++;
      return t.value.toLowerCase();
    }
    if (t.type === 'word' && !RESERVED.has(t.value)) {
      this.pos++;
      return this.text(t).toLowerCase();
    }
    return this.fail('expected identifier');
  }
  isIdent(o = 0): boolean {
    const t = this.peek(o);
    return t.type === 'qident' || (t.type === 'word' && !RESERVED.has(t.value));
  }
  /** Identifier as written (for aliases shown to clients). */
  identAsWritten(): string {
    const t = this.peek();
    if (t.type === 'qident') {
      this.pos++;
      return t.value;
    }
    if (t.type === 'word' && !RESERVED.has(t.value)) {
      this.pos++;
      return this.text(t);
    }
    return this.fail('expected identifier');
  }
  /** A dotted name: ident(.ident)* returning lower-cased parts. */
  dotted(max = 3): string[] {
    const parts = [this.ident()];
    while (parts.length < max && this.isOp('.')) {
      this.pos++;
      const t = this.peek();
      // after a dot any word is a name, even a reserved one (t.select is fine)
      if (t.type === 'word' || t.type === 'qident') {
        this.pos++;
        parts.push(t.type === 'qident' ? t.value.toLowerCase() : this.text(t).toLowerCase());
      } else {
        this.fail('expected name after .');
      }
    }
    return parts;
  }
  /** A table name [db.]table. */
  tableName(): { db: string | null; table: string } {
    const parts = this.dotted(2);
    return parts.length === 2 ? { db: parts[0]!, table: parts[1]! } : { db: null, table: parts[0]! };
  }
  /** A string literal value (adjacent strings concatenate, as in MySQL). */
  stringLit(): string {
    const t = this.peek();
    if (t.type !== 'string') this.fail('expected string');
    let s = '';
    while (this.peek().type === 'string') s += stringValue(this.src, this.next(), this.flavor);
    return s;
  }
  /** Skips balanced parentheses starting at the current `(`. */
  skipParens(): void {
    this.expectOp('(');
    let depth = 1;
    while (depth > 0) {
      const t = this.next();
      if (t.type === 'op') {
        if (t.value === '(') depth++;
        else if (t.value === ')') depth--;
      }
    }
  }
  /** Skips tokens until one of the stop words/ops at paren depth 0 (or the end). */
  skipUntil(stopWords: Set<string>): void {
    let depth = 0;
    while (!this.atEnd()) {
      const t = this.peek();
      if (t.type === 'op') {
        if (t.value === '(') depth++;
        else if (t.value === ')') {
          if (depth === 0) return;
          depth--;
        }
      } else if (depth === 0 && t.type === 'word' && stopWords.has(t.value)) return;
      this.pos++;
    }
  }

  // ---- expressions ----

  expr(): Expr {
    return this.assignExpr();
  }

  exprList(): Expr[] {
    const out = [this.expr()];
    while (this.acceptOp(',')) out.push(this.expr());
    return out;
  }

  private assignExpr(): Expr {
    const t = this.peek();
    if (t.type === 'var' && this.isOp(':=', 1)) {
      this.pos += 2;
      return { k: 'assign', name: t.value, value: this.assignExpr() };
    }
    return this.orExpr();
  }

  private orExpr(): Expr {
    let l = this.xorExpr();
    while (this.isWord('OR') || this.isOp('||')) {
      this.pos++;
      l = { k: 'bin', op: 'OR', l, r: this.xorExpr() };
    }
    return l;
  }

  private xorExpr(): Expr {
    let l = this.andExpr();
    while (this.acceptWord('XOR')) l = { k: 'bin', op: 'XOR', l, r: this.andExpr() };
    return l;
  }

  private andExpr(): Expr {
    let l = this.notExpr();
    while (this.isWord('AND') || this.isOp('&&')) {
      this.pos++;
      l = { k: 'bin', op: 'AND', l, r: this.notExpr() };
    }
    return l;
  }

  private notExpr(): Expr {
    if (this.isWord('NOT')) {
      this.pos++;
      return { k: 'un', op: 'NOT', e: this.notExpr() };
    }
    return this.predicate();
  }

  private predicate(): Expr {
    let l = this.bitOr();
    for (;;) {
      const t = this.peek();
      if (t.type === 'op' && COMPARISON.has(t.value)) {
        this.pos++;
        if (this.isWord('ANY') || this.isWord('SOME') || this.isWord('ALL')) {
          this.pos++;
          l = { k: 'bin', op: t.value, l, r: this.parenSubquery(false) };
        } else {
          l = { k: 'bin', op: t.value, l, r: this.bitOr() };
        }
        continue;
      }
      if (t.type !== 'word') return l;
      let not = false;
      let o = 0;
      if (t.value === 'NOT') {
        const u = this.peek(1);
        if (u.type !== 'word' || !(u.value === 'IN' || u.value === 'LIKE' || u.value === 'BETWEEN' ||
          u.value === 'REGEXP' || u.value === 'RLIKE')) return l;
        not = true;
        o = 1;
      }
      const w = this.peek(o).value;
      if (w === 'IS') {
        this.pos++;
        const isNot = this.acceptWord('NOT');
        const what = this.next();
        if (what.type !== 'word' || !(what.value === 'NULL' || what.value === 'TRUE' || what.value === 'FALSE' ||
          what.value === 'UNKNOWN')) this.fail('bad IS');
        l = { k: 'is', e: l, not: isNot, what: what.value };
      } else if (w === 'IN') {
        this.pos += o + 1;
        if (!this.isOp('(')) this.fail('expected (');
        if (isQueryStart(this, 1)) {
          l = { k: 'in', e: l, not, list: [this.parenSubquery(false)] };
        } else {
          this.pos++;
          const list = this.exprList();
          this.expectOp(')');
          l = { k: 'in', e: l, not, list };
        }
      } else if (w === 'LIKE' || w === 'REGEXP' || w === 'RLIKE') {
        this.pos += o + 1;
        const r = this.bitOr();
        if (this.acceptWord('ESCAPE')) this.bitOr();
        const e: Expr = { k: 'bin', op: w === 'LIKE' ? 'LIKE' : 'REGEXP', l, r };
        l = not ? { k: 'un', op: 'NOT', e } : e;
      } else if (w === 'BETWEEN') {
        this.pos += o + 1;
        const lo = this.bitOr();
        this.expectWord('AND');
        const hi = this.bitOr();
        l = { k: 'between', e: l, lo, hi, not };
      } else if (w === 'SOUNDS' && this.isWord('LIKE', 1)) {
        this.pos += 2;
        l = { k: 'bin', op: 'SOUNDS LIKE', l, r: this.bitOr() };
      } else if (w === 'MEMBER' && this.isWord('OF', 1)) {
        this.pos += 2;
        this.expectOp('(');
        const r = this.expr();
        this.expectOp(')');
        l = { k: 'bin', op: 'MEMBER OF', l, r };
      } else {
        return l;
      }
    }
  }

  private binLevel(next: () => Expr, ops: Set<string>, words: Set<string> | null): Expr {
    let l = next();
    for (;;) {
      const t = this.peek();
      if ((t.type === 'op' && ops.has(t.value)) || (words !== null && t.type === 'word' && words.has(t.value))) {
        this.pos++;
        l = { k: 'bin', op: t.value, l, r: next() };
      } else {
        return l;
      }
    }
  }

  private bitOr(): Expr {
    return this.binLevel(() => this.bitAnd(), OPS_OR, null);
  }
  private bitAnd(): Expr {
    return this.binLevel(() => this.shift(), OPS_AND, null);
  }
  private shift(): Expr {
    return this.binLevel(() => this.additive(), OPS_SHIFT, null);
  }
  private additive(): Expr {
    return this.binLevel(() => this.multiplicative(), OPS_ADD, null);
  }
  private multiplicative(): Expr {
    return this.binLevel(() => this.bitXor(), OPS_MUL, WORDS_MUL);
  }
  private bitXor(): Expr {
    return this.binLevel(() => this.unary(), OPS_XOR, null);
  }

  private unary(): Expr {
    const t = this.peek();
    if (t.type === 'op' && (t.value === '-' || t.value === '+' || t.value === '~' || t.value === '!')) {
      this.pos++;
      return { k: 'un', op: t.value, e: this.unary() };
    }
    if (t.type === 'word' && t.value === 'BINARY' && !this.isOp('(', 1)) {
      this.pos++;
      return { k: 'un', op: 'BINARY', e: this.unary() };
    }
    let e = this.primary();
    for (;;) {
      if (this.acceptWord('COLLATE')) {
        this.next();
        continue;
      }
      if (this.isOp('->') || this.isOp('->>')) {
        const op = this.next().value;
        const path = this.primary();
        e = { k: 'func', name: op === '->' ? 'JSON_EXTRACT' : 'JSON_UNQUOTE', args: [e, path], over: null };
        continue;
      }
      return e;
    }
  }

  /** `( query )` as an expression. */
  parenSubquery(exists: boolean): Expr {
    this.expectOp('(');
    const q = parseQuery(this);
    this.expectOp(')');
    return { k: 'sub', q, exists };
  }

  private primary(): Expr {
    const t = this.peek();
    switch (t.type) {
      case 'number':
        this.pos++;
        return { k: 'lit', v: Number(t.value) };
      case 'string': {
        const v = this.stringLit();
        return { k: 'lit', v };
      }
      case 'hex':
      case 'bit':
        this.pos++;
        return { k: 'lit', v: this.text(t) };
      case 'null':
        this.pos++;
        return { k: 'lit', v: null };
      case 'param':
        this.pos++;
        return { k: 'param' };
      case 'var':
        this.pos++;
        return { k: 'var', name: t.value, sys: false };
      case 'sysvar':
        this.pos++;
        return { k: 'var', name: t.value, sys: true };
      case 'qident':
        return this.columnOrStar();
      case 'op':
        if (t.value === '(') {
          if (isQueryStart(this, 1)) {
            const sub = this.parenSubquery(false);
            return sub;
          }
          this.pos++;
          const items = this.exprList();
          this.expectOp(')');
          return items.length === 1 ? items[0]! : { k: 'row', items };
        }
        if (t.value === '{') {
          // ODBC escapes: {d '2020-01-01'}, {ts '…'}, {fn f(x)}
          this.pos++;
          this.next();
          const e = this.expr();
          this.expectOp('}');
          return e;
        }
        if (t.value === '*') {
          this.pos++;
          return { k: 'star', parts: [] };
        }
        return this.fail('unexpected operator');
      case 'word':
        return this.wordPrimary(t);
      default:
        return this.fail('unexpected token');
    }
  }

  private wordPrimary(t: Token): Expr {
    const v = t.value;
    const next = this.peek(1);
    // Character set introducer: _utf8mb4'x', _binary 0x41
    if (v.charCodeAt(0) === 95 /* _ */ && (next.type === 'string' || next.type === 'hex' || next.type === 'bit')) {
      this.pos++;
      return this.primary();
    }
    switch (v) {
      case 'NULL':
        this.pos++;
        return { k: 'lit', v: null };
      case 'TRUE':
        this.pos++;
        return { k: 'lit', v: true };
      case 'FALSE':
        this.pos++;
        return { k: 'lit', v: false };
      case 'DEFAULT':
        this.pos++;
        if (this.isOp('(')) {
          this.pos++;
          const c = this.expr();
          this.expectOp(')');
          return { k: 'func', name: 'DEFAULT', args: [c], over: null };
        }
        return { k: 'lit', v: null };
      case 'DATE':
      case 'TIME':
      case 'TIMESTAMP':
        if (next.type === 'string') {
          this.pos++;
          return { k: 'lit', v: this.stringLit() };
        }
        break;
      case 'EXISTS':
        this.pos++;
        return this.parenSubquery(true);
      case 'CASE':
        return this.caseExpr();
      case 'INTERVAL': {
        this.pos++;
        const e = this.expr();
        this.next(); // unit
        return { k: 'func', name: 'INTERVAL', args: [e], over: null };
      }
      case 'ROW':
        if (next.type === 'op' && next.value === '(') {
          this.pos += 2;
          const items = this.exprList();
          this.expectOp(')');
          return { k: 'row', items };
        }
        break;
      case 'MATCH':
        if (next.type === 'op' && next.value === '(') return this.matchAgainst();
        break;
    }
    if (next.type === 'op' && next.value === '(' && !(this.peek(2).type === 'op' && this.peek(2).value === '.')) {
      return this.funcCall();
    }
    if (NILADIC.has(v)) {
      this.pos++;
      return { k: 'func', name: v, args: [], over: null };
    }
    if (RESERVED.has(v)) this.fail('reserved word');
    return this.columnOrStar();
  }

  private columnOrStar(): Expr {
    const parts: string[] = [this.ident()];
    while (this.isOp('.')) {
      this.pos++;
      const t = this.peek();
      if (t.type === 'op' && t.value === '*') {
        this.pos++;
        return { k: 'star', parts };
      }
      if (t.type !== 'word' && t.type !== 'qident') this.fail('expected name');
      this.pos++;
      parts.push(t.type === 'qident' ? t.value.toLowerCase() : this.text(t).toLowerCase());
      if (parts.length > 3) this.fail('too many name parts');
    }
    return { k: 'col', parts };
  }

  private caseExpr(): Expr {
    this.expectWord('CASE');
    const operand = this.isWord('WHEN') ? null : this.expr();
    const whens: Expr[] = [];
    const thens: Expr[] = [];
    while (this.acceptWord('WHEN')) {
      whens.push(this.expr());
      this.expectWord('THEN');
      thens.push(this.expr());
    }
    if (whens.length === 0) this.fail('CASE without WHEN');
    const els = this.acceptWord('ELSE') ? this.expr() : null;
    this.expectWord('END');
    return { k: 'case', operand, whens, thens, else: els };
  }

  private matchAgainst(): Expr {
    this.pos++;
    this.expectOp('(');
    const args = this.exprList();
    this.expectOp(')');
    this.expectWord('AGAINST');
    this.expectOp('(');
    args.push(this.bitOr());
    this.skipUntil(EMPTY);
    this.expectOp(')');
    return { k: 'func', name: 'MATCH', args, over: null };
  }

  /** Skips a data type: name [(args)] [UNSIGNED|SIGNED|ZEROFILL|ARRAY] [CHARACTER SET x] [COLLATE x]. */
  skipType(): void {
    this.next();
    if (this.isWord('PRECISION')) this.pos++; // DOUBLE PRECISION
    if (this.isOp('(')) this.skipParens();
    for (;;) {
      if (this.acceptWord('UNSIGNED') || this.acceptWord('SIGNED') || this.acceptWord('ZEROFILL') ||
        this.acceptWord('INTEGER') || this.acceptWord('INT') ||
        this.acceptWord('ARRAY') || this.acceptWord('BINARY') || this.acceptWord('ASCII') || this.acceptWord('UNICODE')) continue;
      if (this.isWord('CHARACTER') && this.isWord('SET', 1)) {
        this.pos += 3;
        continue;
      }
      if (this.acceptWord('CHARSET') || this.acceptWord('COLLATE')) {
        this.next();
        continue;
      }
      return;
    }
  }

  private funcCall(): Expr {
    const nameTok = this.next();
    const name = nameTok.value;
    this.expectOp('(');
    const args: Expr[] = [];
    const innerOrder: Expr[] = [];
    if (UNIT_FIRST.has(name)) {
      this.next();
      while (this.acceptOp(',')) args.push(this.expr());
    } else if (name === 'EXTRACT') {
      this.next();
      this.expectWord('FROM');
      args.push(this.expr());
    } else if (name === 'TRIM' && !this.isOp(')')) {
      if (this.isWord('LEADING') || this.isWord('TRAILING') || this.isWord('BOTH')) this.pos++;
      if (!this.isWord('FROM')) args.push(this.expr());
      if (this.acceptWord('FROM')) args.push(this.expr());
    } else if (name === 'POSITION') {
      args.push(this.bitOr());
      this.expectWord('IN');
      args.push(this.expr());
    } else if (!this.isOp(')')) {
      this.acceptWord('DISTINCT') || this.acceptWord('ALL') || this.acceptWord('DISTINCTROW');
      for (;;) {
        if (this.isOp('*')) {
          this.pos++;
          args.push({ k: 'star', parts: [] });
        } else {
          args.push(this.expr());
        }
        // Argument tails of the special-syntax functions.
        for (;;) {
          if (this.acceptWord('AS')) this.skipType(); // CAST(x AS type), WEIGHT_STRING(x AS CHAR(3))
          else if (this.acceptWord('USING')) this.next(); // CONVERT(x USING cs), CHAR(x USING cs)
          else if (this.acceptWord('FROM') || this.acceptWord('FOR')) args.push(this.expr()); // SUBSTRING(x FROM a FOR b)
          else if (this.acceptWord('SEPARATOR')) this.stringLit();
          else if (this.isWord('ORDER') && this.isWord('BY', 1)) {
            // GROUP_CONCAT(x ORDER BY y): y decides the order of the values, like a window's ORDER BY
            this.pos += 2;
            innerOrder.push(...this.orderList());
          } else if (this.acceptWord('LIMIT')) args.push(...this.exprList());
          else break;
        }
        if (name === 'CONVERT' && this.isOp(',') && this.peek(1).type === 'word') {
          // CONVERT(expr, type): the second argument is a type, not an expression
          this.pos++;
          this.skipType();
          break;
        }
        if (!this.acceptOp(',')) break;
      }
    }
    this.expectOp(')');
    let over: WindowSpec | null = null;
    if (this.isWord('WITHIN') && this.isWord('GROUP', 1)) {
      this.pos += 2;
      this.expectOp('(');
      this.expectWord('ORDER');
      this.expectWord('BY');
      args.push(...this.orderList());
      this.expectOp(')');
    }
    if (this.isWord('RESPECT') || this.isWord('IGNORE')) {
      if (this.isWord('NULLS', 1)) this.pos += 2;
    }
    if (this.acceptWord('OVER')) {
      if (this.isOp('(')) {
        this.pos++;
        over = this.windowSpec();
        this.expectOp(')');
      } else {
        over = { name: this.ident(), partitionBy: [], orderBy: [] };
      }
    }
    if (innerOrder.length > 0) over = { name: over?.name ?? null, partitionBy: over?.partitionBy ?? [], orderBy: [...innerOrder, ...(over?.orderBy ?? [])] };
    return { k: 'func', name, args, over };
  }

  /** The inside of OVER ( … ) or WINDOW w AS ( … ). */
  windowSpec(): WindowSpec {
    let name: string | null = null;
    if (this.isIdent() && !this.isWord('PARTITION') && !this.isWord('ORDER') && !this.isWord('ROWS') &&
      !this.isWord('RANGE') && !this.isWord('GROUPS')) name = this.ident();
    let partitionBy: Expr[] = [];
    let orderBy: Expr[] = [];
    if (this.acceptWord('PARTITION')) {
      this.expectWord('BY');
      partitionBy = this.exprList();
    }
    if (this.isWord('ORDER')) {
      this.pos++;
      this.expectWord('BY');
      orderBy = this.orderList();
    }
    if (this.isWord('ROWS') || this.isWord('RANGE') || this.isWord('GROUPS')) {
      // Frame clause: bounds can hold expressions (INTERVAL 1 DAY PRECEDING), none name columns.
      this.skipUntil(EMPTY);
    }
    return { name, partitionBy, orderBy };
  }

  /** expr [ASC|DESC] (, …)* */
  orderList(): Expr[] {
    const out: Expr[] = [];
    do {
      out.push(this.expr());
      this.acceptWord('ASC') || this.acceptWord('DESC');
    } while (this.acceptOp(','));
    return out;
  }

  /** Used by the statement parsers for subqueries inside expressions. */
  query(): Query {
    return parseQuery(this);
  }
}

const EMPTY = new Set<string>();
const OPS_OR = new Set(['|']);
const OPS_AND = new Set(['&']);
const OPS_SHIFT = new Set(['<<', '>>']);
const OPS_ADD = new Set(['+', '-']);
const OPS_MUL = new Set(['*', '/', '%']);
const WORDS_MUL = new Set(['DIV', 'MOD']);
const OPS_XOR = new Set(['^']);
