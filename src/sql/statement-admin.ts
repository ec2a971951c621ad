// DDL, account, session, transaction and administrative statements. These are recognised by their leading
// keywords and the names they act on; their long tails (column definitions, table options, privileges lists)
// are skipped with bracket matching, since nothing in them changes what the statement is. A CREATE TABLE's tail
// is still searched for the query of CREATE TABLE … [AS] SELECT, which runs.
import type { Parser } from './parser.ts';
import type { Info, StatementContext } from './statement.ts';
import { nestedStatement, queryStatement } from './statement.ts';
import { isQueryStart, parseQuery } from './parse-query.ts';
import { Analyzer } from './analyze.ts';
import type { StatementInfo } from './types.ts';

const NONE = new Set<string>();

/** Skips everything to the end of the statement, failing if an unbalanced ')' appears. */
function rest(p: Parser): void {
  p.skipUntil(NONE);
  if (!p.atEnd()) p.fail('unbalanced )');
}

function acceptIfExists(p: Parser): void {
  if (p.isWord('IF') && p.isWord('EXISTS', 1)) p.pos += 2;
  else if (p.isWord('IF') && p.isWord('NOT', 1) && p.isWord('EXISTS', 2)) p.pos += 3;
}

/** user@host / 'user'@'host' / CURRENT_USER[()]: skipped. */
function account(p: Parser): void {
  if (p.acceptWord('CURRENT_USER')) {
    if (p.acceptOp('(')) p.expectOp(')');
    return;
  }
  const t = p.next();
  if (t.type !== 'string' && t.type !== 'word' && t.type !== 'qident') p.fail('expected account');
  // the lexer reads @'host' / @host as a variable token
  if (p.peek().type === 'var' && p.peek().start === t.end) p.pos++;
  else if (p.isOp('@')) {
    p.pos++;
    p.next();
  }
}

export function parseAdmin(p: Parser, info: Info, ctx: StatementContext): void {
  const w = p.next().value;
  switch (w) {
    case 'CREATE': return create(p, info, ctx);
    case 'ALTER': return alter(p, info, ctx);
    case 'DROP': return drop(p, info);
    case 'TRUNCATE': {
      info.kinds.add('truncate');
      info.object = 'table';
      p.acceptWord('TABLE');
      const t = p.tableName();
      info.write(t.db, t.table);
      return;
    }
    case 'RENAME': {
      info.kinds.add('rename');
      if (p.acceptWord('USER')) {
        info.object = 'user';
        return rest(p);
      }
      if (!p.acceptWord('TABLE')) p.expectWord('TABLES');
      info.object = 'table';
      acceptIfExists(p);
      do {
        const a = p.tableName();
        if (p.isWord('WAIT') || p.isWord('NOWAIT')) p.fail('unsupported');
        p.expectWord('TO');
        const b = p.tableName();
        info.write(a.db, a.table);
        info.write(b.db, b.table);
      } while (p.acceptOp(','));
      return;
    }
    case 'GRANT':
    case 'REVOKE':
      return grant(p, info, w);
    case 'SET': return setStatement(p, info, ctx);
    case 'USE':
      info.kinds.add('use');
      p.ident();
      return;
    case 'SHOW': return show(p, info);
    case 'DESC':
    case 'DESCRIBE':
    case 'EXPLAIN':
      return explain(p, info, ctx);
    case 'ANALYZE':
      if (p.isWord('TABLE') || p.isWord('NO_WRITE_TO_BINLOG') || p.isWord('LOCAL')) return maintenance(p, info, false);
      // MariaDB: ANALYZE <statement> runs the statement and reports its plan with real row counts.
      info.kinds.add('explain');
      if (p.acceptWord('FORMAT')) {
        p.expectOp('=');
        p.next();
      }
      return explainExecuted(p, info, ctx);
    case 'OPTIMIZE':
    case 'REPAIR':
      return maintenance(p, info, true);
    case 'CHECK':
    case 'CHECKSUM':
      return maintenance(p, info, false);
    case 'CALL': {
      info.kinds.add('call');
      info.object = 'procedure';
      p.dotted(2);
      if (p.acceptOp('(')) {
        if (!p.isOp(')')) for (const e of p.exprList()) info.an.lineage(e, info.an.newScope(null, null));
        p.expectOp(')');
      }
      return;
    }
    case 'DO':
      info.kinds.add('do');
      for (const e of p.exprList()) info.an.lineage(e, info.an.newScope(null, null));
      return;
    case 'LOAD': return load(p, info);
    case 'BEGIN':
      info.kinds.add('transaction');
      p.acceptWord('WORK');
      return;
    case 'START':
      if (p.acceptWord('TRANSACTION')) {
        info.kinds.add('transaction');
        return rest(p);
      }
      info.kinds.add('other'); // START SLAVE / REPLICA / GROUP_REPLICATION
      info.parsed = false;
      return rest(p);
    case 'COMMIT':
    case 'ROLLBACK':
    case 'SAVEPOINT':
    case 'RELEASE':
    case 'XA':
      info.kinds.add('transaction');
      return rest(p);
    case 'LOCK':
      return lock(p, info);
    case 'UNLOCK':
      info.kinds.add('lock');
      return rest(p);
    case 'BACKUP':
      info.kinds.add('lock');
      return rest(p);
    case 'KILL':
      info.kinds.add('kill');
      return rest(p);
    case 'FLUSH':
    case 'RESET':
      info.kinds.add('flush');
      return rest(p);
    case 'PREPARE': return prepare(p, info, ctx);
    case 'EXECUTE':
      info.kinds.add('prepare');
      p.ident();
      if (p.acceptWord('USING')) p.exprList();
      return;
    case 'DEALLOCATE':
      info.kinds.add('prepare');
      p.expectWord('PREPARE');
      p.ident();
      return;
    case 'HANDLER': return handler(p, info);
    case 'HELP':
      info.kinds.add('other');
      return rest(p);
    default:
      p.fail(`unknown statement ${w}`);
  }
}

const CREATE_PREFIX = new Set(['OR', 'REPLACE', 'TEMPORARY', 'ONLINE', 'OFFLINE', 'UNIQUE', 'FULLTEXT', 'SPATIAL',
  'AGGREGATE', 'ALGORITHM', 'DEFINER', 'SQL', 'SECURITY', 'INVOKER', 'UNDEFINED', 'MERGE', 'TEMPTABLE']);

/** OR REPLACE, DEFINER = x, ALGORITHM = y, SQL SECURITY z … before the object word. */
function skipPrefix(p: Parser): void {
  for (;;) {
    const t = p.peek();
    if (t.type !== 'word' || !CREATE_PREFIX.has(t.value)) return;
    p.pos++;
    if (t.value === 'DEFINER') {
      p.expectOp('=');
      account(p);
    } else if (t.value === 'ALGORITHM') {
      p.expectOp('=');
      p.next();
    }
  }
}

function create(p: Parser, info: Info, ctx: StatementContext): void {
  info.kinds.add('create');
  skipPrefix(p);
  const obj = p.next().value;
  switch (obj) {
    case 'TABLE': {
      info.object = 'table';
      acceptIfExists(p);
      const t = p.tableName();
      info.write(t.db, t.table);
      if (p.acceptWord('LIKE') || (p.isOp('(') && p.isWord('LIKE', 1) && (p.pos++, p.acceptWord('LIKE')))) {
        const src = p.tableName();
        info.read.push(src);
        p.acceptOp(')');
        return rest(p);
      }
      // Column definitions, then options, then the optional query (CREATE TABLE … [AS] SELECT runs it).
      if (p.isOp('(') && !isQueryStart(p, 1)) p.skipParens();
      while (!p.atEnd()) {
        if (isQueryStart(p)) return createQuery(p, info);
        if ((p.isWord('AS') || p.isWord('IGNORE') || p.isWord('REPLACE')) && isQueryStart(p, 1)) {
          p.pos++;
          return createQuery(p, info);
        }
        if (p.isWord('AS') && (p.isWord('IGNORE', 1) || p.isWord('REPLACE', 1))) {
          p.pos += 2;
          return createQuery(p, info);
        }
        if (p.isOp('(')) p.skipParens();
        else p.pos++;
      }
      return;
    }
    case 'VIEW': {
      info.object = 'view';
      acceptIfExists(p);
      const t = p.tableName();
      info.write(t.db, t.table);
      if (p.isOp('(')) p.skipParens();
      p.expectWord('AS');
      return viewBody(p, info);
    }
    case 'INDEX': {
      info.object = 'index';
      acceptIfExists(p);
      p.ident();
      if (p.acceptWord('USING')) p.next();
      p.expectWord('ON');
      const t = p.tableName();
      info.write(t.db, t.table);
      return rest(p);
    }
    case 'DATABASE':
    case 'SCHEMA': {
      info.object = 'database';
      acceptIfExists(p);
      info.write(p.ident(), '*');
      return rest(p);
    }
    case 'PROCEDURE':
    case 'FUNCTION':
    case 'TRIGGER':
    case 'EVENT':
    case 'PACKAGE': {
      // Routine bodies are handled by classify.ts (the splitter found where they begin).
      info.object = obj.toLowerCase();
      acceptIfExists(p);
      const t = p.tableName();
      info.write(t.db, t.table);
      p.pos = p.end;
      return;
    }
    case 'USER':
    case 'ROLE':
      info.object = obj.toLowerCase();
      return rest(p);
    case 'SEQUENCE':
    case 'SERVER':
    case 'TABLESPACE':
    case 'LOGFILE':
    case 'SPATIAL':
      info.object = obj.toLowerCase();
      return rest(p);
    default:
      p.fail('unknown CREATE');
  }
}

function createQuery(p: Parser, info: Info): void {
  const q = parseQuery(p);
  info.an.query(q, null, null);
}

/** The SELECT of a view runs later, when the view is read: listed as body, its tables as tables read. */
function viewBody(p: Parser, info: Info): void {
  const start = p.peek().start;
  const q = parseQuery(p);
  if (p.isWord('WITH')) {
    p.pos++;
    p.acceptWord('CASCADED') || p.acceptWord('LOCAL');
    p.expectWord('CHECK');
    p.expectWord('OPTION');
  }
  const an = new Analyzer();
  const outs = an.query(q, null, null);
  for (const t of an.reads.values()) info.read.push(t);
  const kinds: StatementInfo['kinds'] = an.into !== null && an.into !== 'variable' ? ['select', 'into_outfile'] : ['select'];
  info.body = [{
    kinds, text: p.src.slice(start, p.toks[p.pos - 1]!.end), tablesRead: [...an.reads.values()], tablesWritten: [],
    unboundedWrite: null, predicateColumns: [...an.preds.values()],
    outputColumns: outs.map((o, index) => ({ index, name: o.name, sources: o.sources, computed: o.computed })),
    into: an.into, localInfile: false, parsed: true,
  }];
}

function alter(p: Parser, info: Info, ctx: StatementContext): void {
  info.kinds.add('alter');
  p.acceptWord('ONLINE');
  p.acceptWord('IGNORE');
  skipPrefix(p);
  const obj = p.next().value;
  info.object = obj.toLowerCase();
  switch (obj) {
    case 'TABLE': {
      acceptIfExists(p);
      const t = p.tableName();
      info.write(t.db, t.table);
      // RENAME [TO|AS] new_name also writes the new name
      while (!p.atEnd()) {
        if (p.acceptWord('RENAME') && !p.isWord('COLUMN') && !p.isWord('INDEX') && !p.isWord('KEY')) {
          p.acceptWord('TO') || p.acceptWord('AS');
          const n = p.tableName();
          info.write(n.db, n.table);
          continue;
        }
        if (p.isOp('(')) p.skipParens();
        else p.pos++;
      }
      return;
    }
    case 'VIEW': {
      const t = p.tableName();
      info.write(t.db, t.table);
      if (p.isOp('(')) p.skipParens();
      p.expectWord('AS');
      return viewBody(p, info);
    }
    case 'DATABASE':
    case 'SCHEMA':
      if (p.isIdent() && !p.isWord('DEFAULT') && !p.isWord('CHARACTER') && !p.isWord('CHARSET') &&
        !p.isWord('COLLATE') && !p.isWord('COMMENT')) info.write(p.ident(), '*');
      return rest(p);
    default:
      return rest(p);
  }
}

function drop(p: Parser, info: Info): void {
  p.acceptWord('TEMPORARY');
  const obj = p.next().value;
  if (obj === 'PREPARE') {
    info.kinds.add('prepare');
    p.ident();
    return;
  }
  info.kinds.add('drop');
  info.object = obj === 'TABLES' ? 'table' : obj === 'SCHEMA' ? 'database' : obj.toLowerCase();
  acceptIfExists(p);
  switch (obj) {
    case 'TABLE':
    case 'TABLES':
    case 'VIEW':
      do {
        const t = p.tableName();
        info.write(t.db, t.table);
      } while (p.acceptOp(','));
      p.acceptWord('RESTRICT') || p.acceptWord('CASCADE');
      return;
    case 'DATABASE':
    case 'SCHEMA':
      info.write(p.ident(), '*');
      return;
    case 'INDEX': {
      p.acceptWord('ONLINE');
      p.ident();
      p.expectWord('ON');
      const t = p.tableName();
      info.write(t.db, t.table);
      return rest(p);
    }
    case 'PROCEDURE':
    case 'FUNCTION':
    case 'TRIGGER':
    case 'EVENT':
    case 'SEQUENCE': {
      const t = p.tableName();
      info.write(t.db, t.table);
      return;
    }
    default:
      return rest(p);
  }
}

function grant(p: Parser, info: Info, w: string): void {
  info.kinds.add(w === 'GRANT' ? 'grant' : 'revoke');
  // privileges … ON [TABLE|FUNCTION|PROCEDURE] object TO|FROM accounts; roles: GRANT r TO u.
  let depth = 0;
  while (!p.atEnd()) {
    if (p.isOp('(')) depth++;
    else if (p.isOp(')')) depth--;
    else if (depth === 0 && p.isWord('ON')) {
      p.pos++;
      if (p.isWord('TABLE') || p.isWord('FUNCTION') || p.isWord('PROCEDURE') || p.isWord('PACKAGE')) p.pos++;
      if (p.isWord('PROXY')) break;
      const first = p.peek();
      const part1 = first.type === 'op' && first.value === '*' ? (p.pos++, '*') : p.ident();
      let db: string | null = null;
      let table = part1;
      if (p.acceptOp('.')) {
        db = part1;
        table = p.acceptOp('*') ? '*' : p.dotted(1)[0]!;
      }
      info.write(db, table);
      info.object = 'table';
      break;
    }
    p.pos++;
  }
  rest(p);
}

function setStatement(p: Parser, info: Info, ctx: StatementContext): void {
  info.kinds.add('set');
  if (p.acceptWord('STATEMENT')) {
    // MariaDB: SET STATEMENT var=value [, …] FOR <statement>: the statement runs.
    do {
      p.dotted(2);
      p.expectOp('=');
      setValue(p, info);
    } while (p.acceptOp(','));
    p.expectWord('FOR');
    info.absorb(nestedStatement(p, ctx), true);
    return;
  }
  if (p.acceptWord('PASSWORD')) {
    info.object = 'user';
    return rest(p);
  }
  if (p.isWord('ROLE') || (p.isWord('DEFAULT') && p.isWord('ROLE', 1))) {
    info.object = 'role';
    return rest(p);
  }
  if (p.isWord('NAMES') || p.isWord('CHARSET') || (p.isWord('CHARACTER') && p.isWord('SET', 1))) return rest(p);
  do {
    for (;;) {
      if (p.acceptWord('GLOBAL') || p.acceptWord('SESSION') || p.acceptWord('LOCAL') || p.acceptWord('PERSIST') ||
        p.acceptWord('PERSIST_ONLY')) continue;
      break;
    }
    if (p.acceptWord('TRANSACTION')) return rest(p);
    const t = p.next();
    let userVar = false;
    if (t.type === 'var') userVar = true;
    else if (t.type === 'sysvar') { /* @@x */ }
    else if (t.type === 'word' || t.type === 'qident') {
      while (p.acceptOp('.')) p.next();
    } else p.fail('bad SET target');
    if (!p.acceptOp('=')) p.expectOp(':=');
    const before = info.an.selectBlocks;
    setValue(p, info);
    if (userVar && info.an.selectBlocks > before) info.an.setInto('variable');
  } while (p.acceptOp(','));
}

/** The value of a SET: an expression, or a bare word such as ON / OFF / DEFAULT / a collation name. */
function setValue(p: Parser, info: Info): void {
  const t = p.peek();
  const n = p.peek(1);
  if (t.type === 'word' && (n.type === 'op' && (n.value === ',' || n.value === '<eof>') || p.pos + 1 >= p.end ||
    (n.type === 'word' && n.value === 'FOR'))) {
    p.pos++;
    return;
  }
  info.an.lineage(p.expr(), info.an.newScope(null, null));
}

function show(p: Parser, info: Info): void {
  info.kinds.add('show');
  p.acceptWord('FULL') || p.acceptWord('EXTENDED');
  p.acceptWord('FULL');
  if (p.isWord('COLUMNS') || p.isWord('FIELDS') || p.isWord('INDEX') || p.isWord('INDEXES') || p.isWord('KEYS')) {
    p.pos++;
    if (!p.acceptWord('FROM')) p.expectWord('IN');
    const t = p.tableName();
    let db = t.db;
    if (p.acceptWord('FROM') || p.acceptWord('IN')) db = p.ident();
    info.read.push({ db, table: t.table });
    return rest(p);
  }
  if (p.isWord('CREATE') && (p.isWord('TABLE', 1) || p.isWord('VIEW', 1) || p.isWord('TRIGGER', 1))) {
    p.pos += 2;
    info.read.push(p.tableName());
    return rest(p);
  }
  rest(p);
}

function explain(p: Parser, info: Info, ctx: StatementContext): void {
  // DESCRIBE t [col] / EXPLAIN t: table structure.
  if (p.isIdent() && !p.isWord('EXTENDED') && !p.isWord('PARTITIONS') && !p.isWord('FORMAT') &&
    !p.isWord('ANALYZE') && !p.isWord('FOR')) {
    info.kinds.add('describe');
    info.object = 'table';
    info.read.push(p.tableName());
    if (!p.atEnd()) p.next(); // column name or wildcard string
    return;
  }
  info.kinds.add('explain');
  if (p.acceptWord('ANALYZE')) {
    // MySQL 8 EXPLAIN ANALYZE runs the statement; so does MariaDB's ANALYZE.
    if (p.acceptWord('FORMAT')) {
      p.expectOp('=');
      p.next();
    }
    return explainExecuted(p, info, ctx);
  }
  for (;;) {
    if (p.acceptWord('EXTENDED') || p.acceptWord('PARTITIONS')) continue;
    if (p.acceptWord('FORMAT')) {
      p.expectOp('=');
      p.next();
      continue;
    }
    break;
  }
  if (p.acceptWord('FOR')) {
    p.expectWord('CONNECTION');
    return rest(p);
  }
  // EXPLAIN <statement> shows the plan without running it: the statement's kinds are not the EXPLAIN's.
  const inner = nestedStatement(p, ctx);
  info.explained = inner;
  for (const t of inner.tablesRead) info.read.push(t);
  for (const t of inner.tablesWritten) info.read.push(t);
  if (!inner.parsed) info.parsed = false;
}

function explainExecuted(p: Parser, info: Info, ctx: StatementContext): void {
  const inner = nestedStatement(p, ctx);
  info.explained = inner;
  info.absorb(inner, true);
}

function maintenance(p: Parser, info: Info, writes: boolean): void {
  info.kinds.add(writes ? 'alter' : 'other');
  info.object = 'table';
  p.acceptWord('NO_WRITE_TO_BINLOG') || p.acceptWord('LOCAL');
  if (!p.acceptWord('TABLE')) p.expectWord('TABLES');
  do {
    const t = p.tableName();
    if (writes) info.write(t.db, t.table);
    else info.read.push(t);
  } while (p.acceptOp(','));
  rest(p);
}

function load(p: Parser, info: Info): void {
  if (p.acceptWord('INDEX')) {
    info.kinds.add('other');
    return rest(p);
  }
  if (!p.acceptWord('DATA')) p.expectWord('XML');
  info.kinds.add('load_data');
  p.acceptWord('LOW_PRIORITY') || p.acceptWord('CONCURRENT');
  if (p.acceptWord('LOCAL')) info.localInfile = true;
  p.expectWord('INFILE');
  p.stringLit();
  p.acceptWord('REPLACE') || p.acceptWord('IGNORE');
  p.expectWord('INTO');
  p.expectWord('TABLE');
  const t = p.tableName();
  info.write(t.db, t.table);
  // The tail (field/line options, column list, SET col = expr) may hold subqueries: read them as expressions.
  while (!p.atEnd()) {
    if (p.acceptWord('SET')) {
      do {
        p.dotted(2);
        p.expectOp('=');
        info.an.lineage(p.expr(), info.an.newScope(null, null));
      } while (p.acceptOp(','));
      continue;
    }
    if (p.isOp('(')) p.skipParens();
    else p.pos++;
  }
}

function lock(p: Parser, info: Info): void {
  info.kinds.add('lock');
  if (!p.acceptWord('TABLES') && !p.acceptWord('TABLE')) return rest(p);
  do {
    const t = p.tableName();
    if (p.acceptWord('AS') || (p.isIdent() && !p.isWord('READ') && !p.isWord('WRITE') && !p.isWord('LOW_PRIORITY'))) p.ident();
    if (p.acceptWord('READ')) {
      p.acceptWord('LOCAL');
      info.read.push(t);
    } else {
      p.acceptWord('LOW_PRIORITY');
      p.expectWord('WRITE');
      p.acceptWord('CONCURRENT');
      info.write(t.db, t.table);
    }
  } while (p.acceptOp(','));
  if (p.acceptWord('WAIT')) p.next();
  else p.acceptWord('NOWAIT');
}

function prepare(p: Parser, info: Info, ctx: StatementContext): void {
  info.kinds.add('prepare');
  p.ident();
  p.expectWord('FROM');
  if (p.peek().type === 'string') {
    // The statement text is a literal: classify it too (its kinds become this statement's, so a policy acts at
    // PREPARE time; EXECUTE s cannot be judged without the session's memory of s).
    const text = p.stringLit();
    p.literalDependent = true;
    const inner = ctx.classifyText(text);
    info.prepared = inner;
    for (const s of inner) info.absorb(s, true);
    if (inner.length !== 1) info.parsed = false;
    return;
  }
  // PREPARE s FROM @var (or an expression): the text is not known here.
  p.expr();
  info.parsed = false;
}

function handler(p: Parser, info: Info): void {
  const t = p.tableName();
  if (p.acceptWord('OPEN')) {
    info.kinds.add('other');
    info.read.push(t);
    if (p.acceptWord('AS') || p.isIdent()) p.ident();
    return;
  }
  if (p.acceptWord('CLOSE')) {
    info.kinds.add('other');
    return;
  }
  p.expectWord('READ');
  // HANDLER t READ … returns rows of t (t may be an alias given at OPEN; we cannot know across statements).
  info.kinds.add('select');
  info.read.push(t);
  const scope = info.an.newScope(null, null);
  info.an.fromItem({ k: 'table', db: t.db, table: t.table, alias: null }, scope);
  info.outputs = [{ index: 0, name: null, sources: [], computed: false, star: [t] }];
  while (!p.atEnd()) {
    if (p.acceptWord('WHERE')) {
      info.an.predicates(p.expr(), scope);
      continue;
    }
    if (p.isOp('(')) {
      p.pos++;
      for (const e of p.exprList()) info.an.predicates(e, scope);
      p.expectOp(')');
      continue;
    }
    p.pos++;
  }
}

export { queryStatement };
