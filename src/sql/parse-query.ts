// Query expressions: WITH, SELECT blocks, set operations, VALUES/TABLE, FROM clauses with joins and derived
// tables, INTO in both positions MySQL/MariaDB accept (before FROM, and after the locking clause / at the end).
import type { Parser } from './parser.ts';
import type { Cte, Expr, FromItem, Into, Query, SelectBlock, SelectItem, WindowSpec } from './ast.ts';
import { RESERVED } from './keywords.ts';

/** Does a query begin at offset `o` (looking through opening parentheses)? */
export function isQueryStart(p: Parser, o = 0): boolean {
  let k = o;
  while (p.isOp('(', k)) k++;
  const t = p.peek(k);
  return t.type === 'word' && (t.value === 'SELECT' || t.value === 'WITH' || t.value === 'VALUES' ||
    (t.value === 'TABLE' && (p.peek(k + 1).type === 'word' || p.peek(k + 1).type === 'qident')));
}

/** [WITH …] query-term { UNION|INTERSECT|EXCEPT [ALL|DISTINCT] query-term } [ORDER BY] [LIMIT] [INTO] */
export function parseQuery(p: Parser): Query {
  let ctes: Cte[] | null = null;
  let recursive = false;
  if (p.acceptWord('WITH')) {
    recursive = p.acceptWord('RECURSIVE');
    ctes = parseCtes(p);
  }
  let q = parseTerm(p);
  for (;;) {
    const t = p.peek();
    if (t.type !== 'word' || !(t.value === 'UNION' || t.value === 'INTERSECT' || t.value === 'EXCEPT')) break;
    p.pos++;
    let op = t.value;
    if (p.acceptWord('ALL')) op += ' ALL';
    else p.acceptWord('DISTINCT');
    const right = parseTerm(p);
    q = { k: 'setop', op, left: q, right, orderBy: [], limit: null, into: null, with: null, recursive: false };
  }
  // ORDER BY / LIMIT / INTO after a parenthesised term or a set operation apply to the whole.
  if (q.k === 'setop' || q.k === 'tableq') {
    if (p.isWord('ORDER') && p.isWord('BY', 1)) {
      p.pos += 2;
      q.orderBy = p.orderList();
    }
    if (p.acceptWord('LIMIT')) q.limit = parseLimit(p);
    if (q.k === 'setop') {
      const into = parseInto(p);
      if (into !== null) q.into = into;
      skipLocking(p);
      const into2 = parseInto(p);
      if (into2 !== null) q.into = into2;
    }
  } else if (q.k === 'select' && (p.isWord('ORDER') || p.isWord('LIMIT'))) {
    // (SELECT …) ORDER BY … : the outer clauses attach to the block.
    if (p.isWord('ORDER') && p.isWord('BY', 1)) {
      p.pos += 2;
      q.orderBy = q.orderBy.concat(p.orderList());
    }
    if (p.acceptWord('LIMIT')) q.limit = parseLimit(p);
  }
  if (ctes !== null) {
    q.with = q.with === null ? ctes : ctes.concat(q.with);
    q.recursive = q.recursive || recursive;
  }
  return q;
}

export function parseCtes(p: Parser): Cte[] {
  const out: Cte[] = [];
  do {
    const name = p.ident();
    let columns: string[] | null = null;
    if (p.acceptOp('(')) {
      columns = identList(p);
      p.expectOp(')');
    }
    p.expectWord('AS');
    p.expectOp('(');
    const q = parseQuery(p);
    p.expectOp(')');
    out.push({ name, columns, q });
  } while (p.acceptOp(','));
  return out;
}

export function identList(p: Parser): string[] {
  const out = [p.ident()];
  while (p.acceptOp(',')) out.push(p.ident());
  return out;
}

function parseTerm(p: Parser): Query {
  if (p.acceptOp('(')) {
    const q = parseQuery(p);
    p.expectOp(')');
    return q;
  }
  if (p.isWord('SELECT')) return parseSelect(p);
  if (p.acceptWord('VALUES')) {
    const rows: Expr[][] = [];
    do {
      p.acceptWord('ROW');
      p.expectOp('(');
      rows.push(p.isOp(')') ? [] : p.exprList());
      p.expectOp(')');
    } while (p.acceptOp(','));
    return { k: 'values', rows, with: null, recursive: false };
  }
  if (p.acceptWord('TABLE')) {
    return { k: 'tableq', table: p.tableName(), orderBy: [], limit: null, with: null, recursive: false };
  }
  return p.fail('expected SELECT');
}

const SELECT_MODIFIERS = new Set(['ALL', 'DISTINCT', 'DISTINCTROW', 'HIGH_PRIORITY', 'STRAIGHT_JOIN',
  'SQL_SMALL_RESULT', 'SQL_BIG_RESULT', 'SQL_BUFFER_RESULT', 'SQL_NO_CACHE', 'SQL_CACHE', 'SQL_CALC_FOUND_ROWS']);

function parseSelect(p: Parser): SelectBlock {
  p.expectWord('SELECT');
  while (p.peek().type === 'word' && SELECT_MODIFIERS.has(p.peek().value)) p.pos++;
  const q: SelectBlock = {
    k: 'select', items: [], from: [], where: null, groupBy: [], having: null, windows: [], orderBy: [],
    limit: null, into: null, with: null, recursive: false,
  };
  do q.items.push(selectItem(p)); while (p.acceptOp(','));
  q.into = parseInto(p);
  if (p.acceptWord('FROM')) {
    if (!p.acceptWord('DUAL')) q.from = tableRefs(p);
  }
  if (p.acceptWord('WHERE')) q.where = p.expr();
  if (p.isWord('GROUP') && p.isWord('BY', 1)) {
    p.pos += 2;
    q.groupBy = p.orderList();
    if (p.isWord('WITH') && p.isWord('ROLLUP', 1)) p.pos += 2;
  }
  if (p.acceptWord('HAVING')) q.having = p.expr();
  if (p.acceptWord('WINDOW')) {
    do {
      const name = p.ident();
      p.expectWord('AS');
      p.expectOp('(');
      const spec: WindowSpec = p.windowSpec();
      p.expectOp(')');
      q.windows.push({ name, partitionBy: spec.partitionBy, orderBy: spec.orderBy });
    } while (p.acceptOp(','));
  }
  if (p.isWord('ORDER') && p.isWord('BY', 1)) {
    p.pos += 2;
    q.orderBy = p.orderList();
  }
  if (p.acceptWord('LIMIT')) q.limit = parseLimit(p);
  if (p.isWord('PROCEDURE')) p.fail('SELECT … PROCEDURE is not supported');
  const into = parseInto(p);
  if (into !== null) q.into = into;
  skipLocking(p);
  const into2 = parseInto(p);
  if (into2 !== null) q.into = into2;
  return q;
}

function selectItem(p: Parser): SelectItem {
  const startTok = p.peek();
  const expr = p.expr();
  const endTok = p.toks[p.pos - 1]!;
  const text = p.src.slice(startTok.start, endTok.end);
  let alias: string | null = null;
  if (expr.k !== 'star') {
    if (p.acceptWord('AS')) {
      alias = p.peek().type === 'string' ? p.stringLit() : p.identAsWritten();
    } else if (p.peek().type === 'string') {
      alias = p.stringLit();
    } else if (p.isIdent() && !p.isWord('INTO')) {
      alias = p.identAsWritten();
    }
  }
  return { expr, alias, text };
}

/** LIMIT n | LIMIT off, n | LIMIT n OFFSET off; MariaDB also LIMIT n ROWS EXAMINED m. Returns the row count. */
export function parseLimit(p: Parser): Expr {
  let count = p.expr();
  if (p.acceptOp(',')) count = p.expr();
  else if (p.acceptWord('OFFSET')) p.expr();
  if (p.isWord('ROWS') && p.isWord('EXAMINED', 1)) {
    p.pos += 2;
    p.expr();
  }
  return count;
}

/** INTO @a, @b | INTO OUTFILE 'f' [options] | INTO DUMPFILE 'f'; null when absent. */
export function parseInto(p: Parser): Into | null {
  if (!p.isWord('INTO')) return null;
  p.pos++;
  if (p.acceptWord('OUTFILE')) {
    const file = p.stringLit();
    // CHARACTER SET, FIELDS/COLUMNS …, LINES …: all literals
    while (!p.atEnd() && !p.isOp(')') && !p.isOp(';') && !p.isWord('FOR') && !p.isWord('LOCK') && !p.isWord('INTO')) p.pos++;
    return { k: 'outfile', file };
  }
  if (p.acceptWord('DUMPFILE')) return { k: 'dumpfile', file: p.stringLit() };
  const vars: string[] = [];
  do {
    const t = p.next();
    if (t.type === 'var') vars.push(t.value);
    else if (t.type === 'word' || t.type === 'qident') vars.push(t.value.toLowerCase()); // local variables in stored programs
    else p.fail('bad INTO target');
  } while (p.acceptOp(','));
  return { k: 'variable', vars };
}

/** FOR UPDATE [OF t…] [NOWAIT|SKIP LOCKED|WAIT n] | FOR SHARE | LOCK IN SHARE MODE */
function skipLocking(p: Parser): void {
  for (;;) {
    if (p.isWord('FOR') && (p.isWord('UPDATE', 1) || p.isWord('SHARE', 1))) {
      p.pos += 2;
      if (p.acceptWord('OF')) do p.tableName(); while (p.acceptOp(','));
      if (p.acceptWord('NOWAIT')) continue;
      if (p.acceptWord('WAIT')) {
        p.next();
        continue;
      }
      if (p.isWord('SKIP') && p.isWord('LOCKED', 1)) p.pos += 2;
      continue;
    }
    if (p.isWord('LOCK') && p.isWord('IN', 1)) {
      p.pos += 2;
      p.expectWord('SHARE');
      p.expectWord('MODE');
      continue;
    }
    return;
  }
}

/** table_reference [, table_reference]… */
export function tableRefs(p: Parser): FromItem[] {
  const out = [tableRef(p)];
  while (p.acceptOp(',')) out.push(tableRef(p));
  return out;
}

const JOIN_START = new Set(['JOIN', 'INNER', 'CROSS', 'LEFT', 'RIGHT', 'NATURAL', 'STRAIGHT_JOIN', 'FULL']);

function tableRef(p: Parser): FromItem {
  let left = tableFactor(p);
  for (;;) {
    const t = p.peek();
    if (t.type !== 'word' || !JOIN_START.has(t.value)) return left;
    let natural = false;
    if (p.acceptWord('NATURAL')) natural = true;
    if (p.acceptWord('LEFT') || p.acceptWord('RIGHT') || p.acceptWord('FULL')) p.acceptWord('OUTER');
    else p.acceptWord('INNER') || p.acceptWord('CROSS');
    if (!p.acceptWord('JOIN')) p.expectWord('STRAIGHT_JOIN');
    const right = tableFactor(p);
    let on: Expr | null = null;
    let using: string[] | null = null;
    if (!natural) {
      if (p.acceptWord('ON')) on = p.expr();
      else if (p.acceptWord('USING')) {
        p.expectOp('(');
        using = identList(p);
        p.expectOp(')');
      }
    }
    left = { k: 'join', left, right, on, using, natural };
  }
}

function alias(p: Parser): string | null {
  if (p.acceptWord('AS')) return p.peek().type === 'string' ? p.stringLit().toLowerCase() : p.ident();
  if (p.isIdent() && !isJoinOrClauseWord(p)) return p.ident();
  if (p.peek().type === 'string') return p.stringLit().toLowerCase();
  return null;
}

function isJoinOrClauseWord(p: Parser): boolean {
  const t = p.peek();
  return t.type === 'word' && (JOIN_START.has(t.value) || t.value === 'USE' || t.value === 'IGNORE' ||
    t.value === 'FORCE' || t.value === 'WINDOW' || t.value === 'RETURNING' || RESERVED.has(t.value));
}

function tableFactor(p: Parser): FromItem {
  if (p.isOp('{')) {
    // ODBC outer join escape: { OJ table_reference }
    p.pos++;
    p.expectWord('OJ');
    const inner = tableRef(p);
    p.expectOp('}');
    return inner;
  }
  const lateral = p.acceptWord('LATERAL');
  if (p.isOp('(')) {
    if (isQueryStart(p, 1)) {
      p.pos++;
      const q = parseQuery(p);
      p.expectOp(')');
      const a = alias(p);
      let columns: string[] | null = null;
      if (a !== null && p.acceptOp('(')) {
        columns = identList(p);
        p.expectOp(')');
      }
      return { k: 'derived', q, alias: a, columns, lateral };
    }
    p.pos++;
    const items = tableRefs(p);
    p.expectOp(')');
    let item = items[0]!;
    for (let k = 1; k < items.length; k++) item = { k: 'join', left: item, right: items[k]!, on: null, using: null, natural: false };
    return item;
  }
  if (p.isWord('JSON_TABLE') && p.isOp('(', 1)) {
    p.pos += 2;
    const args = [p.expr()];
    p.skipUntil(new Set());
    p.expectOp(')');
    return { k: 'tablefunc', args, alias: alias(p) };
  }
  const name = p.tableName();
  if (p.acceptWord('PARTITION')) p.skipParens();
  if (p.isWord('FOR') && p.isWord('SYSTEM_TIME', 1)) {
    p.pos += 2;
    p.skipUntil(new Set(['AS', 'JOIN', 'INNER', 'LEFT', 'RIGHT', 'CROSS', 'NATURAL', 'WHERE', 'GROUP', 'ORDER',
      'LIMIT', 'ON', 'USING', 'HAVING', 'UNION', 'SET', 'STRAIGHT_JOIN']));
  }
  const a = alias(p);
  // Index hints: USE|IGNORE|FORCE {INDEX|KEY} [FOR {JOIN|ORDER BY|GROUP BY}] ([names])
  while ((p.isWord('USE') || p.isWord('IGNORE') || p.isWord('FORCE')) && (p.isWord('INDEX', 1) || p.isWord('KEY', 1))) {
    p.pos += 2;
    if (p.acceptWord('FOR')) {
      if (!p.acceptWord('JOIN')) {
        p.next();
        p.expectWord('BY');
      }
    }
    p.skipParens();
    p.acceptOp(',');
  }
  return { k: 'table', db: name.db, table: name.table, alias: a };
}
