// Name resolution and column lineage over the parsed tree. Without the schema we cannot know which table owns an
// unqualified column when several could; the rules below are documented in src/sql/README.md:
// - an unqualified column is looked up from the innermost query block outwards; the first block whose FROM could
//   hold it decides (MySQL does the same, knowing the columns);
// - inside that block a derived table/CTE that is known to expose the name wins (a base table that also had it
//   would make the query ambiguous, which MySQL rejects); otherwise one base table resolves it, and several base
//   tables give one candidate per table;
// - `t.*` / `*` over a base table is a star (unknown width); over a derived table or CTE it expands to the
//   derived columns.
import type { ColumnRef, TableRef } from './types.ts';
import type { Cte, Expr, FromItem, Query, SelectBlock, SelectItem, WindowSpec } from './ast.ts';

export interface Out {
  /** The name as the client sees it, and its lower-case key for lookups. */
  name: string | null;
  key: string | null;
  sources: ColumnRef[];
  computed: boolean;
  /** Tables whose every column may appear here (a star over a base table). */
  star: TableRef[] | null;
  /** This entry stands for an unknown number of columns. */
  unknownWidth: boolean;
}

interface Source {
  alias: string;
  db: string | null;
  table: string | null; // base table name; null for derived tables / CTEs / table functions
  outs: Out[] | null; // known columns of a derived table or CTE
  anyCol: ColumnRef[] | null; // table function: every column derives from these
}

interface Scope {
  parent: Scope | null;
  sources: Source[];
  ctes: CteEnv | null;
}

interface CteEnv {
  name: string;
  outs: Out[];
  parent: CteEnv | null;
}

function findCte(env: CteEnv | null, name: string): CteEnv | null {
  for (let e = env; e !== null; e = e.parent) if (e.name === name) return e;
  return null;
}

export function colKey(c: ColumnRef): string {
  return `${c.db ?? ''}\u0000${c.table ?? ''}\u0000${c.column}`;
}

function addAll(into: ColumnRef[], seen: Set<string>, from: ColumnRef[]): void {
  for (const c of from) {
    const k = colKey(c);
    if (!seen.has(k)) {
      seen.add(k);
      into.push(c);
    }
  }
}

function dedupCols(cols: ColumnRef[]): ColumnRef[] {
  const out: ColumnRef[] = [];
  addAll(out, new Set(), cols);
  return out;
}

function dedupTables(ts: TableRef[]): TableRef[] {
  const seen = new Set<string>();
  const out: TableRef[] = [];
  for (const t of ts) {
    const k = `${t.db ?? ''}\u0000${t.table}`;
    if (!seen.has(k)) {
      seen.add(k);
      out.push(t);
    }
  }
  return out;
}

/** Walks one statement's queries, collecting tables read, predicate columns and lineage. */
export class Analyzer {
  readonly reads = new Map<string, TableRef>();
  readonly preds = new Map<string, ColumnRef>();
  selectBlocks = 0;
  into: 'variable' | 'outfile' | 'dumpfile' | null = null;
  literalDependent = false;

  addRead(db: string | null, table: string): void {
    const k = `${db ?? ''}\u0000${table}`;
    if (!this.reads.has(k)) this.reads.set(k, { db, table });
  }

  addPred(c: ColumnRef): void {
    const k = colKey(c);
    if (!this.preds.has(k)) this.preds.set(k, c);
  }

  setInto(v: 'variable' | 'outfile' | 'dumpfile'): void {
    // the most dangerous destination wins when several appear
    if (this.into === null || this.into === 'variable') this.into = v;
  }

  /** Analyzes a query; returns its output columns. */
  query(q: Query, parent: Scope | null, ctes: CteEnv | null): Out[] {
    const env = q.with !== null ? this.withClause(q.with, q.recursive, parent, ctes) : ctes;
    switch (q.k) {
      case 'select':
        return this.select(q, parent, env);
      case 'setop': {
        const l = this.query(q.left, parent, env);
        const r = this.query(q.right, parent, env);
        const outs = mergeSetop(l, r);
        if (q.into !== null) this.setInto(q.into.k);
        const scope: Scope = { parent, sources: [], ctes: env };
        this.orderByOuts(q.orderBy, outs, scope);
        return outs;
      }
      case 'values': {
        this.selectBlocks++;
        const scope: Scope = { parent, sources: [], ctes: env };
        const first = q.rows[0] ?? [];
        return first.map((_, i) => {
          const sources: ColumnRef[] = [];
          const seen = new Set<string>();
          for (const row of q.rows) if (row[i] !== undefined) addAll(sources, seen, this.lineage(row[i]!, scope).sources);
          return { name: null, key: null, sources, computed: true, star: null, unknownWidth: false };
        });
      }
      case 'tableq': {
        this.selectBlocks++;
        const cte = q.table.db === null ? findCte(env, q.table.table) : null;
        if (cte !== null) return cte.outs;
        this.addRead(q.table.db, q.table.table);
        return [{ name: null, key: null, sources: [], computed: false, star: [{ db: q.table.db, table: q.table.table }], unknownWidth: true }];
      }
    }
  }

  private withClause(list: Cte[], recursive: boolean, parent: Scope | null, ctes: CteEnv | null): CteEnv | null {
    let env = ctes;
    for (const c of list) {
      let outs: Out[];
      if (recursive) {
        // Two passes: the recursive branch refers to the CTE itself, whose columns come from the first pass.
        // The first pass only learns the column list; a scratch analyzer keeps its half-resolved names out.
        const self: CteEnv = { name: c.name, outs: [], parent: env };
        self.outs = rename(new Analyzer().query(c.q, parent, self), c.columns);
        outs = rename(this.query(c.q, parent, self), c.columns);
      } else {
        outs = rename(this.query(c.q, parent, env), c.columns);
      }
      env = { name: c.name, outs, parent: env };
    }
    return env;
  }

  private select(q: SelectBlock, parent: Scope | null, env: CteEnv | null): Out[] {
    this.selectBlocks++;
    const scope: Scope = { parent, sources: [], ctes: env };
    for (const f of q.from) this.fromItem(f, scope);
    for (const f of q.from) this.joinConditions(f, scope);
    if (q.into !== null) this.setInto(q.into.k);
    const outs: Out[] = [];
    for (const item of q.items) this.selectItem(item, scope, outs);
    if (q.where !== null) this.predicates(q.where, scope);
    for (const w of q.windows) this.window(w, scope);
    for (const g of q.groupBy) this.aliasPredicate(g, scope, q.items, outs, true);
    if (q.having !== null) this.aliasPredicates(q.having, scope, q.items, outs);
    for (const o of q.orderBy) this.aliasPredicate(o, scope, q.items, outs, false);
    if (q.limit !== null) this.predicates(q.limit, scope);
    return outs;
  }

  /** Registers the sources of a FROM item in `scope` (tables read, derived tables analyzed). */
  fromItem(f: FromItem, scope: Scope): void {
    switch (f.k) {
      case 'table': {
        const cte = f.db === null ? findCte(scope.ctes, f.table) : null;
        if (cte !== null) {
          scope.sources.push({ alias: f.alias ?? f.table, db: null, table: null, outs: cte.outs, anyCol: null });
        } else {
          this.addRead(f.db, f.table);
          scope.sources.push({ alias: f.alias ?? f.table, db: f.db, table: f.table, outs: null, anyCol: null });
        }
        return;
      }
      case 'derived': {
        const outs = rename(this.query(f.q, f.lateral ? scope : scope.parent, scope.ctes), f.columns);
        scope.sources.push({ alias: f.alias ?? '', db: null, table: null, outs, anyCol: null });
        return;
      }
      case 'tablefunc': {
        const cols: ColumnRef[] = [];
        const seen = new Set<string>();
        for (const a of f.args) addAll(cols, seen, this.lineage(a, scope).sources);
        scope.sources.push({ alias: f.alias ?? '', db: null, table: null, outs: null, anyCol: cols });
        return;
      }
      case 'join':
        this.fromItem(f.left, scope);
        this.fromItem(f.right, scope);
        return;
    }
  }

  /** ON / USING / NATURAL conditions of joins: predicate columns (they decide which rows come back). */
  joinConditions(f: FromItem, scope: Scope): void {
    if (f.k !== 'join') return;
    this.joinConditions(f.left, scope);
    this.joinConditions(f.right, scope);
    if (f.on !== null) this.predicates(f.on, scope);
    const sides = [...this.sourcesOf(f.left, scope), ...this.sourcesOf(f.right, scope)];
    if (f.using !== null) {
      for (const name of f.using) for (const s of sides) for (const c of resolveIn(s, name, true)) this.addPred(c);
    }
    if (f.natural) {
      // The shared columns are not known without the schema: every column of both sides may be compared.
      for (const s of sides) for (const c of anyColumnOf(s)) this.addPred(c);
    }
  }

  private sourcesOf(f: FromItem, scope: Scope): Source[] {
    const aliases = new Set<string>();
    const walk = (x: FromItem): void => {
      if (x.k === 'join') {
        walk(x.left);
        walk(x.right);
      } else if (x.k === 'table') aliases.add(x.alias ?? x.table);
      else aliases.add(x.alias ?? '');
    };
    walk(f);
    return scope.sources.filter((s) => aliases.has(s.alias));
  }

  private selectItem(item: SelectItem, scope: Scope, outs: Out[]): void {
    const e = item.expr;
    if (e.k === 'star') {
      for (const o of this.expandStar(e.parts, scope)) outs.push(o);
      return;
    }
    const res = this.lineage(e, scope);
    const name = item.alias ?? (e.k === 'col' ? e.parts[e.parts.length - 1]! : item.text);
    outs.push({
      name,
      key: name.toLowerCase(),
      sources: res.sources,
      computed: e.k === 'col' ? res.computed : true,
      star: res.star,
      unknownWidth: false,
    });
  }

  private expandStar(parts: string[], scope: Scope): Out[] {
    let sources = scope.sources;
    if (parts.length > 0) {
      const found = findSource(scope, parts);
      sources = found === null ? [] : [found];
      if (found === null) {
        const t: TableRef = parts.length === 2 ? { db: parts[0]!, table: parts[1]! } : { db: null, table: parts[0]! };
        return [{ name: null, key: null, sources: [], computed: false, star: [t], unknownWidth: true }];
      }
    }
    const out: Out[] = [];
    for (const s of sources) {
      if (s.outs !== null) out.push(...s.outs);
      else if (s.table !== null) {
        out.push({ name: null, key: null, sources: [], computed: false, star: [{ db: s.db, table: s.table }], unknownWidth: true });
      } else {
        out.push({ name: null, key: null, sources: s.anyCol ?? [], computed: true, star: null, unknownWidth: true });
      }
    }
    return out;
  }

  /** Base columns an expression's value derives from. */
  lineage(e: Expr, scope: Scope): { sources: ColumnRef[]; computed: boolean; star: TableRef[] | null } {
    const sources: ColumnRef[] = [];
    const seen = new Set<string>();
    let computed = false;
    let star: TableRef[] | null = null;
    const visit = (x: Expr): void => {
      switch (x.k) {
        case 'col': {
          const r = resolve(scope, x.parts);
          addAll(sources, seen, r.cols);
          if (r.computed) computed = true;
          return;
        }
        case 'sub': {
          const outs = this.query(x.q, scope, scope.ctes);
          computed = true;
          for (const o of outs) {
            addAll(sources, seen, o.sources);
            if (o.star !== null) star = dedupTables([...(star ?? []), ...o.star]);
          }
          return;
        }
        case 'assign':
          this.setInto('variable');
          visit(x.value);
          return;
        case 'func':
          if (x.over !== null) this.window(x.over, scope);
          for (const a of x.args) visit(a);
          return;
        default:
          forEachChild(x, visit);
      }
    };
    visit(e);
    return { sources, computed, star };
  }

  /** Columns in a filtering/sorting/grouping position; subquery outputs compared there count too. */
  predicates(e: Expr, scope: Scope): void {
    const visit = (x: Expr): void => {
      switch (x.k) {
        case 'col':
          for (const c of resolve(scope, x.parts).cols) this.addPred(c);
          return;
        case 'sub': {
          const outs = this.query(x.q, scope, scope.ctes);
          if (!x.exists) for (const o of outs) this.predOut(o);
          return;
        }
        case 'assign':
          this.setInto('variable');
          visit(x.value);
          return;
        case 'func':
          if (x.over !== null) this.window(x.over, scope);
          for (const a of x.args) visit(a);
          return;
        default:
          forEachChild(x, visit);
      }
    };
    visit(e);
  }

  private predOut(o: Out): void {
    for (const c of o.sources) this.addPred(c);
    if (o.star !== null) for (const t of o.star) this.addPred({ db: t.db, table: t.table, column: '*' });
  }

  private window(w: WindowSpec, scope: Scope): void {
    for (const e of w.partitionBy) this.predicates(e, scope);
    for (const e of w.orderBy) this.predicates(e, scope);
  }

  /**
   * ORDER BY / GROUP BY element: a position (`ORDER BY 2`), a select alias, or an expression. MySQL looks up
   * ORDER BY names in the select list first and GROUP BY names in FROM first; not knowing the FROM columns we
   * take both readings for GROUP BY.
   */
  private aliasPredicate(e: Expr, scope: Scope, items: SelectItem[], outs: Out[], both: boolean): void {
    if (e.k === 'lit' && typeof e.v === 'number') {
      this.literalDependent = true;
      this.positional(e.v, outs);
      return;
    }
    if (e.k === 'col' && e.parts.length === 1) {
      const name = e.parts[0]!;
      const hit = items.findIndex((it) => it.alias !== null && it.alias.toLowerCase() === name);
      if (hit >= 0) {
        const o = outs.find((x) => x.key === name);
        if (o !== undefined) this.predOut(o);
        if (!both) return;
      }
    }
    this.aliasPredicates(e, scope, items, outs);
  }

  private aliasPredicates(e: Expr, scope: Scope, items: SelectItem[], outs: Out[]): void {
    const visit = (x: Expr): void => {
      if (x.k === 'col' && x.parts.length === 1) {
        const name = x.parts[0]!;
        if (items.some((it) => it.alias !== null && it.alias.toLowerCase() === name)) {
          const o = outs.find((y) => y.key === name);
          if (o !== undefined) this.predOut(o);
        }
        for (const c of resolve(scope, x.parts).cols) this.addPred(c);
        return;
      }
      if (x.k === 'col' || x.k === 'sub' || x.k === 'func' || x.k === 'assign') {
        this.predicates(x, scope);
        return;
      }
      forEachChild(x, visit);
    };
    visit(e);
  }

  private positional(n: number, outs: Out[]): void {
    const idx = n - 1;
    let k = 0;
    for (const o of outs) {
      if (o.unknownWidth) {
        // The position may fall inside this star or any column after it.
        for (const rest of outs.slice(k)) this.predOut(rest);
        return;
      }
      if (k === idx) {
        this.predOut(o);
        return;
      }
      k++;
    }
  }

  private orderByOuts(order: Expr[], outs: Out[], scope: Scope): void {
    for (const e of order) {
      if (e.k === 'lit' && typeof e.v === 'number') {
        this.literalDependent = true;
        this.positional(e.v, outs);
      } else if (e.k === 'col' && e.parts.length === 1) {
        const o = outs.find((x) => x.key === e.parts[0]);
        if (o !== undefined) this.predOut(o);
        else for (const x of outs) this.predOut(x);
      } else {
        this.predicates(e, scope);
      }
    }
  }

  /** Makes a base table visible to column resolution without counting it as read (an INSERT target). */
  addSource(scope: Scope, db: string | null, table: string, alias: string | null): void {
    scope.sources.push({ alias: alias ?? table, db, table, outs: null, anyCol: null });
  }

  newScope(parent: Scope | null, ctes: CteEnv | null): Scope {
    return { parent, sources: [], ctes };
  }

  cteEnv(list: Cte[] | null, recursive: boolean): CteEnv | null {
    return list === null ? null : this.withClause(list, recursive, null, null);
  }
}

export type { Scope, CteEnv };

/** Calls f on each direct sub-expression (not into subqueries' own clauses). */
export function forEachChild(x: Expr, f: (e: Expr) => void): void {
  switch (x.k) {
    case 'bin':
      f(x.l);
      f(x.r);
      return;
    case 'un':
      f(x.e);
      return;
    case 'is':
      f(x.e);
      return;
    case 'in':
      f(x.e);
      for (const e of x.list) f(e);
      return;
    case 'between':
      f(x.e);
      f(x.lo);
      f(x.hi);
      return;
    case 'case':
      if (x.operand !== null) f(x.operand);
      for (const e of x.whens) f(e);
      for (const e of x.thens) f(e);
      if (x.else !== null) f(x.else);
      return;
    case 'row':
      for (const e of x.items) f(e);
      return;
    case 'func':
      for (const e of x.args) f(e);
      return;
    case 'assign':
      f(x.value);
      return;
    default:
      return;
  }
}

function rename(outs: Out[], columns: string[] | null): Out[] {
  if (columns === null) return outs;
  return outs.map((o, i) => (i < columns.length ? { ...o, name: columns[i]!, key: columns[i]! } : o));
}

/** Position-wise union of two branches; a star of unknown width in either spoils positions after it. */
function mergeSetop(l: Out[], r: Out[]): Out[] {
  const unknown = l.some((o) => o.unknownWidth) || r.some((o) => o.unknownWidth);
  if (!unknown) {
    return l.map((o, i) => {
      const p = r[i];
      if (p === undefined) return o;
      const same = !o.computed && !p.computed && o.sources.length === 1 && p.sources.length === 1 &&
        colKey(o.sources[0]!) === colKey(p.sources[0]!);
      return {
        ...o,
        sources: dedupCols([...o.sources, ...p.sources]),
        computed: !same,
        star: o.star === null && p.star === null ? null : dedupTables([...(o.star ?? []), ...(p.star ?? [])]),
      };
    });
  }
  const allSources = dedupCols([...l, ...r].flatMap((o) => o.sources));
  const allStars = dedupTables([...l, ...r].flatMap((o) => o.star ?? []));
  return l.map((o) => ({
    ...o,
    sources: allSources,
    computed: true,
    star: allStars.length > 0 ? allStars : null,
  }));
}

function findSource(scope: Scope, qual: string[]): Source | null {
  for (let s: Scope | null = scope; s !== null; s = s.parent) {
    for (const src of s.sources) {
      if (qual.length === 1) {
        if (src.alias === qual[0]) return src;
      } else if (src.table === qual[1] && (src.db === qual[0] || src.db === null) && src.alias === src.table) {
        return src;
      }
    }
  }
  return null;
}

/** What a source gives for column `name`; `strict` limits derived tables to names they expose. */
function resolveIn(s: Source, name: string, strict: boolean): ColumnRef[] {
  if (s.table !== null) return [{ db: s.db, table: s.table, column: name }];
  if (s.anyCol !== null) return s.anyCol;
  const out: ColumnRef[] = [];
  const seen = new Set<string>();
  let found = false;
  for (const o of s.outs ?? []) {
    if (o.key === name) {
      addAll(out, seen, o.sources);
      found = true;
    }
  }
  if (!found || !strict) {
    for (const o of s.outs ?? []) {
      if (o.unknownWidth && o.star !== null) addAll(out, seen, o.star.map((t) => ({ db: t.db, table: t.table, column: name })));
      else if (o.unknownWidth) addAll(out, seen, o.sources);
    }
  }
  return out;
}

function anyColumnOf(s: Source): ColumnRef[] {
  if (s.table !== null) return [{ db: s.db, table: s.table, column: '*' }];
  if (s.anyCol !== null) return s.anyCol;
  const out: ColumnRef[] = [];
  for (const o of s.outs ?? []) {
    out.push(...o.sources);
    if (o.star !== null) for (const t of o.star) out.push({ db: t.db, table: t.table, column: '*' });
  }
  return out;
}

function exposes(s: Source, name: string): 'yes' | 'maybe' | 'no' {
  if (s.table !== null || s.anyCol !== null) return 'maybe';
  let maybe = false;
  for (const o of s.outs ?? []) {
    if (o.key === name) return 'yes';
    if (o.unknownWidth) maybe = true;
  }
  return maybe ? 'maybe' : 'no';
}

/** Resolves a column reference to base columns (see the file comment). */
export function resolve(scope: Scope, parts: string[]): { cols: ColumnRef[]; computed: boolean } {
  const name = parts[parts.length - 1]!;
  if (parts.length > 1) {
    const src = findSource(scope, parts.slice(0, -1));
    if (src === null) {
      const cols = parts.length === 3 ? [{ db: parts[0]!, table: parts[1]!, column: name }] : [{ db: null, table: parts[0]!, column: name }];
      return { cols, computed: false };
    }
    return { cols: resolveIn(src, name, true), computed: derivedComputed(src, name) };
  }
  for (let s: Scope | null = scope; s !== null; s = s.parent) {
    const yes: Source[] = [];
    const maybe: Source[] = [];
    for (const src of s.sources) {
      const e = exposes(src, name);
      if (e === 'yes') yes.push(src);
      else if (e === 'maybe') maybe.push(src);
    }
    const pick = yes.length > 0 ? yes : maybe;
    if (pick.length === 0) continue;
    const cols: ColumnRef[] = [];
    const seen = new Set<string>();
    let computed = false;
    for (const src of pick) {
      addAll(cols, seen, resolveIn(src, name, true));
      if (derivedComputed(src, name)) computed = true;
    }
    return { cols, computed };
  }
  return { cols: [{ db: null, table: null, column: name }], computed: false };
}

function derivedComputed(s: Source, name: string): boolean {
  if (s.table !== null) return false;
  if (s.anyCol !== null) return true;
  const o = (s.outs ?? []).find((x) => x.key === name);
  return o === undefined ? true : o.computed;
}
