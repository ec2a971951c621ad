// INSERT / REPLACE / UPDATE / DELETE, as MySQL 8 and MariaDB 10.11 accept them (MariaDB adds RETURNING).
import type { Parser } from './parser.ts';
import type { Assignment, Cte, DeleteStmt, Expr, FromItem, InsertStmt, SelectItem, UpdateStmt } from './ast.ts';
import { identList, isQueryStart, parseLimit, parseQuery, tableRefs } from './parse-query.ts';

const INSERT_MODIFIERS = new Set(['LOW_PRIORITY', 'DELAYED', 'HIGH_PRIORITY', 'IGNORE']);

export function parseInsert(p: Parser, ctes: Cte[] | null): InsertStmt {
  const replace = p.next().value === 'REPLACE';
  while (p.peek().type === 'word' && INSERT_MODIFIERS.has(p.peek().value)) p.pos++;
  p.acceptWord('INTO');
  const table = p.tableName();
  if (p.acceptWord('PARTITION')) p.skipParens();
  const st: InsertStmt = {
    k: 'insert', replace, table, alias: null, columns: null, rows: null, set: null, query: null, onDuplicate: [],
    returning: null, with: ctes,
  };
  if (p.isOp('(') && !isQueryStart(p, 1)) {
    p.pos++;
    st.columns = p.isOp(')') ? [] : columnList(p);
    p.expectOp(')');
  }
  if (p.acceptWord('VALUES') || p.acceptWord('VALUE')) {
    st.rows = [];
    do {
      p.acceptWord('ROW');
      p.expectOp('(');
      st.rows.push(p.isOp(')') ? [] : p.exprList());
      p.expectOp(')');
    } while (p.acceptOp(','));
    if (p.acceptWord('AS')) {
      st.alias = p.ident();
      if (p.acceptOp('(')) {
        identList(p);
        p.expectOp(')');
      }
    }
  } else if (p.acceptWord('SET')) {
    st.set = assignments(p);
  } else if (isQueryStart(p)) {
    st.query = parseQuery(p);
  } else {
    p.fail('expected VALUES, SET or SELECT');
  }
  if (p.isWord('ON') && p.isWord('DUPLICATE', 1)) {
    p.pos += 2;
    p.expectWord('KEY');
    p.expectWord('UPDATE');
    st.onDuplicate = assignments(p);
  }
  if (p.acceptWord('RETURNING')) st.returning = returningList(p);
  return st;
}

/** col [, col]… where a column may be qualified (t.col). */
function columnList(p: Parser): string[] {
  const out = [p.dotted(3).pop()!];
  while (p.acceptOp(',')) out.push(p.dotted(3).pop()!);
  return out;
}

export function assignments(p: Parser): Assignment[] {
  const out: Assignment[] = [];
  do {
    const target = p.dotted(3);
    if (!p.acceptOp('=')) p.expectOp(':=');
    out.push({ target, value: p.expr() });
  } while (p.acceptOp(','));
  return out;
}

export function returningList(p: Parser): SelectItem[] {
  const out: SelectItem[] = [];
  do {
    const startTok = p.peek();
    const expr = p.expr();
    const text = p.src.slice(startTok.start, p.toks[p.pos - 1]!.end);
    let alias: string | null = null;
    if (p.acceptWord('AS')) alias = p.identAsWritten();
    else if (p.isIdent()) alias = p.identAsWritten();
    out.push({ expr, alias, text });
  } while (p.acceptOp(','));
  return out;
}

export function parseUpdate(p: Parser, ctes: Cte[] | null, recursive: boolean): UpdateStmt {
  p.expectWord('UPDATE');
  p.acceptWord('LOW_PRIORITY');
  p.acceptWord('IGNORE');
  const from = tableRefs(p);
  p.expectWord('SET');
  const set = assignments(p);
  const st: UpdateStmt = { k: 'update', from, set, where: null, orderBy: [], limit: null, with: ctes, recursive };
  if (p.acceptWord('WHERE')) st.where = p.expr();
  if (p.isWord('ORDER') && p.isWord('BY', 1)) {
    p.pos += 2;
    st.orderBy = p.orderList();
  }
  if (p.acceptWord('LIMIT')) st.limit = parseLimit(p);
  return st;
}

/** tbl[.*] [, tbl[.*]]… (the delete targets of a multi-table DELETE). */
function targetList(p: Parser): string[][] {
  const out: string[][] = [];
  do {
    const parts = p.dotted(2);
    if (p.acceptOp('.')) p.expectOp('*');
    out.push(parts);
  } while (p.acceptOp(','));
  return out;
}

export function parseDelete(p: Parser, ctes: Cte[] | null, recursive: boolean): DeleteStmt {
  p.expectWord('DELETE');
  for (;;) if (!(p.acceptWord('LOW_PRIORITY') || p.acceptWord('QUICK') || p.acceptWord('IGNORE'))) break;
  const st: DeleteStmt = {
    k: 'delete', targets: [], from: [], where: null, orderBy: [], limit: null, returning: null, multi: false,
    with: ctes, recursive,
  };
  if (p.acceptWord('FROM')) {
    // DELETE FROM t … | DELETE FROM t1, t2 USING refs …
    const save = p.pos;
    const targets = targetList(p);
    if (p.acceptWord('USING')) {
      st.multi = true;
      st.targets = targets;
      st.from = tableRefs(p);
    } else {
      p.pos = save;
      const refs = tableRefs(p);
      st.from = refs;
      const only = refs[0]!;
      if (refs.length !== 1 || only.k !== 'table') {
        p.fail('DELETE FROM with a join needs USING or target list');
      }
      st.targets = [only.alias !== null ? [only.alias] : only.db !== null ? [only.db, only.table] : [only.table]];
    }
  } else {
    // DELETE t1, t2 FROM refs …
    st.multi = true;
    st.targets = targetList(p);
    p.expectWord('FROM');
    st.from = tableRefs(p);
  }
  if (p.isWord('FOR') && p.isWord('PORTION', 1)) p.fail('FOR PORTION OF is not supported');
  if (p.acceptWord('WHERE')) st.where = p.expr();
  if (p.isWord('ORDER') && p.isWord('BY', 1)) {
    p.pos += 2;
    st.orderBy = p.orderList();
  }
  if (p.acceptWord('LIMIT')) st.limit = parseLimit(p);
  if (p.acceptWord('RETURNING')) st.returning = returningList(p);
  return st;
}

/** True when a FROM list is a single table (not a join, not several tables). */
export function singleTable(from: FromItem[]): boolean {
  return from.length === 1 && from[0]!.k === 'table';
}

export type { Expr };
