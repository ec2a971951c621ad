// One statement, parsed: the dispatch on its first keyword, and the DML/query statements. DDL, account and
// administrative statements are in statement-admin.ts. Throws ParseError when the statement is not understood;
// classify.ts then falls back to the lexer (fallback.ts).
import type { Parser } from './parser.ts';
import { ParseError } from './parser.ts';
import { Analyzer } from './analyze.ts';
import type { Out, Scope } from './analyze.ts';
import type { Cte, DeleteStmt, FromItem, InsertStmt, Query, SelectItem, UpdateStmt } from './ast.ts';
import { parseCtes, parseQuery, isQueryStart } from './parse-query.ts';
import { parseDelete, parseInsert, parseUpdate } from './parse-dml.ts';
import { whereTruth } from './truth.ts';
import { STATEMENT_KINDS } from './types.ts';
import type { OutputColumn, StatementInfo, StatementKind, TableRef } from './types.ts';
import { parseAdmin } from './statement-admin.ts';

/** Accumulates what one statement does; `finish` turns it into a StatementInfo. */
export class Info {
  readonly kinds = new Set<StatementKind>();
  readonly an = new Analyzer();
  readonly written: TableRef[] = [];
  readonly read: TableRef[] = [];
  unbounded: boolean | null = null;
  outputs: OutputColumn[] | null = null;
  localInfile = false;
  parsed = true;
  prepared: StatementInfo[] | undefined;
  explained: StatementInfo | undefined;
  body: StatementInfo[] | undefined;
  object: string | undefined;

  write(db: string | null, table: string): void {
    if (!this.written.some((t) => t.db === db && t.table === table)) this.written.push({ db, table });
  }

  /** Folds another statement's effects into this one (PREPARE's inner statement, ANALYZE's statement, …). */
  absorb(s: StatementInfo, withKinds: boolean): void {
    if (withKinds) for (const k of s.kinds) this.kinds.add(k);
    for (const t of s.tablesRead) this.an.addRead(t.db, t.table);
    if (withKinds) for (const t of s.tablesWritten) this.write(t.db, t.table);
    for (const c of s.predicateColumns) this.an.addPred(c);
    if (withKinds && s.unboundedWrite !== null) this.unbounded = (this.unbounded ?? false) || s.unboundedWrite;
    if (s.into !== null) this.an.setInto(s.into);
    if (s.localInfile) this.localInfile = true;
    if (!s.parsed) this.parsed = false;
  }

  finish(text: string): StatementInfo {
    if (this.an.selectBlocks > 0) this.kinds.add('select');
    if (this.an.into === 'outfile' || this.an.into === 'dumpfile') this.kinds.add('into_outfile');
    if (this.kinds.size === 0) this.kinds.add('other');
    for (const t of this.read) this.an.addRead(t.db, t.table);
    const info: StatementInfo = {
      kinds: STATEMENT_KINDS.filter((k) => this.kinds.has(k)),
      text,
      tablesRead: [...this.an.reads.values()],
      tablesWritten: this.written,
      unboundedWrite: this.unbounded,
      predicateColumns: [...this.an.preds.values()],
      outputColumns: this.outputs,
      into: this.an.into,
      localInfile: this.localInfile,
      parsed: this.parsed,
    };
    if (this.prepared !== undefined) info.prepared = this.prepared;
    if (this.explained !== undefined) info.explained = this.explained;
    if (this.body !== undefined) info.body = this.body;
    if (this.object !== undefined) info.object = this.object;
    return info;
  }
}

/** Converts analyzer output columns to the contract's OutputColumn list. */
export function toOutputColumns(outs: Out[]): OutputColumn[] {
  let uncertain = false;
  return outs.map((o, index) => {
    const c: OutputColumn = { index, name: o.name, sources: o.sources, computed: o.computed || o.unknownWidth && o.star === null };
    if (o.star !== null) c.star = o.star;
    else if (o.unknownWidth) c.star = [];
    if (uncertain) c.indexUncertain = true;
    if (o.unknownWidth) uncertain = true;
    return c;
  });
}

/** Context a statement parser needs beyond the tokens: how to classify text found inside the statement. */
export interface StatementContext {
  classifyText(sql: string): StatementInfo[];
}

/** Parses the statement at the parser's position (to its end) into `info`. */
export function parseStatement(p: Parser, info: Info, ctx: StatementContext): void {
  const t = p.peek();
  if (t.type === 'op' && t.value === '(') {
    queryStatement(p, info);
  } else if (t.type !== 'word') {
    p.fail('statement must start with a keyword');
  } else {
    switch (t.value) {
      case 'SELECT':
      case 'VALUES':
      case 'TABLE':
        queryStatement(p, info);
        break;
      case 'WITH':
        withStatement(p, info);
        break;
      case 'INSERT':
      case 'REPLACE':
        insertStatement(p, info, parseInsert(p, null));
        break;
      case 'UPDATE':
        updateStatement(p, info, parseUpdate(p, null, false));
        break;
      case 'DELETE':
        deleteStatement(p, info, parseDelete(p, null, false));
        break;
      default:
        parseAdmin(p, info, ctx);
    }
  }
  if (!p.atEnd()) p.fail('unexpected text after statement');
}

export function queryStatement(p: Parser, info: Info): void {
  const q = parseQuery(p);
  const outs = info.an.query(q, null, null);
  info.outputs = toOutputColumns(outs);
}

function withStatement(p: Parser, info: Info): void {
  const save = p.pos;
  p.expectWord('WITH');
  const recursive = p.acceptWord('RECURSIVE');
  const ctes = parseCtes(p);
  if (p.isWord('UPDATE')) return updateStatement(p, info, parseUpdate(p, ctes, recursive));
  if (p.isWord('DELETE')) return deleteStatement(p, info, parseDelete(p, ctes, recursive));
  if (p.isWord('INSERT') || p.isWord('REPLACE')) return insertStatement(p, info, parseInsert(p, ctes));
  p.pos = save;
  queryStatement(p, info);
}

function cteScope(info: Info, ctes: Cte[] | null, recursive: boolean): Scope {
  return info.an.newScope(null, info.an.cteEnv(ctes, recursive));
}

function returning(info: Info, items: SelectItem[] | null, scope: Scope): void {
  if (items === null) return;
  const outs: Out[] = items.map((it) => {
    if (it.expr.k === 'star') {
      return { name: null, key: null, sources: [], computed: false, star: scope.sources.filter((s) => s.table !== null).map((s) => ({ db: s.db, table: s.table! })), unknownWidth: true };
    }
    const r = info.an.lineage(it.expr, scope);
    const name = it.alias ?? (it.expr.k === 'col' ? it.expr.parts[it.expr.parts.length - 1]! : it.text);
    return { name, key: name.toLowerCase(), sources: r.sources, computed: it.expr.k !== 'col' || r.computed, star: r.star, unknownWidth: false };
  });
  info.outputs = toOutputColumns(outs);
}

function insertStatement(p: Parser, info: Info, st: InsertStmt): void {
  info.kinds.add(st.replace ? 'replace' : 'insert');
  info.write(st.table.db, st.table.table);
  const scope = cteScope(info, st.with, false);
  if (st.query !== null) info.an.query(st.query, null, scope.ctes);
  for (const row of st.rows ?? []) for (const e of row) info.an.lineage(e, scope);
  // Values may read the target through subqueries; ON DUPLICATE KEY UPDATE reads the existing row.
  const target: Scope = info.an.newScope(null, scope.ctes);
  info.an.addSource(target, st.table.db, st.table.table, st.alias);
  for (const a of st.set ?? []) info.an.lineage(a.value, target);
  for (const a of st.onDuplicate) info.an.lineage(a.value, target);
  returning(info, st.returning, target);
}

/** The base tables an UPDATE/DELETE target list names (aliases resolved through the FROM list). */
function targetTables(from: FromItem[], names: string[][]): TableRef[] {
  const flat: Extract<FromItem, { k: 'table' }>[] = [];
  const walk = (f: FromItem): void => {
    if (f.k === 'join') {
      walk(f.left);
      walk(f.right);
    } else if (f.k === 'table') flat.push(f);
  };
  for (const f of from) walk(f);
  const out: TableRef[] = [];
  for (const n of names) {
    const hit = n.length === 1
      ? flat.find((f) => (f.alias ?? f.table) === n[0])
      : flat.find((f) => f.table === n[1] && (f.db === n[0] || f.db === null));
    if (hit !== undefined) out.push({ db: hit.db, table: hit.table });
    else out.push(n.length === 2 ? { db: n[0]!, table: n[1]! } : { db: null, table: n[0]! });
  }
  return out;
}

function joinBounded(from: FromItem[]): boolean {
  // A multi-table UPDATE/DELETE is bounded by a join condition that is not always true.
  let bounded = false;
  const walk = (f: FromItem): void => {
    if (f.k !== 'join') return;
    walk(f.left);
    walk(f.right);
    if (f.using !== null && f.using.length > 0) bounded = true;
    if (f.on !== null && whereTruth(f.on).truth === 'U') bounded = true;
  };
  for (const f of from) walk(f);
  return bounded;
}

/**
 * Whether an UPDATE/DELETE can touch every row: no WHERE (or an always-true one), no join condition, and no
 * LIMIT. A LIMIT bounds the write, except a literal of a billion rows or more, which is "no limit" in effect.
 */
function unbounded(info: Info, where: UpdateStmt['where'], limit: UpdateStmt['limit'], from: FromItem[]): boolean {
  if (limit !== null) {
    if (limit.k === 'lit' && typeof limit.v === 'number') {
      info.an.literalDependent = true;
      if (limit.v < 1e9) return false;
    } else {
      return false;
    }
  }
  if (where !== null) {
    const r = whereTruth(where);
    if (r.literalDependent) info.an.literalDependent = true;
    if (r.truth !== 'T') return false;
  }
  return !(from.length > 1 || from[0]?.k === 'join') || !joinBounded(from);
}

function updateStatement(p: Parser, info: Info, st: UpdateStmt): void {
  info.kinds.add('update');
  const scope = cteScope(info, st.with, st.recursive);
  for (const f of st.from) info.an.fromItem(f, scope);
  for (const f of st.from) info.an.joinConditions(f, scope);
  // The written tables are those whose columns are assigned.
  const names = st.set.map((a) => a.target.length > 1 ? a.target.slice(0, -1) : null);
  const tables = targetTables(st.from, names.filter((n): n is string[] => n !== null));
  if (names.some((n) => n === null)) {
    // unqualified: the single table, or (ambiguous) every base table of the statement
    const all = targetTables(st.from, scope.sources.filter((s) => s.table !== null).map((s) => [s.alias]));
    tables.push(...all);
  }
  for (const t of tables) info.write(t.db, t.table);
  for (const a of st.set) info.an.lineage(a.value, scope);
  if (st.where !== null) info.an.predicates(st.where, scope);
  for (const o of st.orderBy) info.an.predicates(o, scope);
  info.unbounded = unbounded(info, st.where, st.limit, st.from);
}

function deleteStatement(p: Parser, info: Info, st: DeleteStmt): void {
  info.kinds.add('delete');
  const scope = cteScope(info, st.with, st.recursive);
  for (const f of st.from) info.an.fromItem(f, scope);
  for (const f of st.from) info.an.joinConditions(f, scope);
  for (const t of targetTables(st.from, st.targets)) info.write(t.db, t.table);
  if (st.where !== null) info.an.predicates(st.where, scope);
  for (const o of st.orderBy) info.an.predicates(o, scope);
  info.unbounded = unbounded(info, st.where, st.limit, st.from);
  returning(info, st.returning, scope);
}

/** Parses a nested statement (EXPLAIN x, SET STATEMENT … FOR x, ANALYZE x) from the current position. */
export function nestedStatement(p: Parser, ctx: StatementContext): StatementInfo {
  const start = p.peek().start;
  const inner = new Info();
  parseStatement(p, inner, ctx);
  const end = p.toks[p.end - 1]!.end;
  inner.an.literalDependent ||= false;
  const s = inner.finish(p.src.slice(start, end));
  if (inner.an.literalDependent) p.literalDependent = true;
  return s;
}

export { ParseError, isQueryStart };
export type { Query };
