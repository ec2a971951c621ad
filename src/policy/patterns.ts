import type { ColumnRef, StatementInfo, TableRef } from '../sql/types.ts';

/**
 * `db.table` and `db.table.column` patterns of the configuration, `*` standing for a whole part. Names are
 * compared case-insensitively on purpose: a rule on app.users must also catch APP.Users on a server whose
 * lower_case_table_names makes them the same table, and column names are case-insensitive in MySQL anyway.
 */

/** One compiled part: the lower-cased name, or null for `*`. */
export type Part = string | null;

export interface TablePattern {
  readonly text: string;
  readonly db: Part;
  readonly table: Part;
}

export interface ColumnPattern extends TablePattern {
  readonly column: Part;
}

function part(s: string): Part {
  return s === '*' ? null : s.toLowerCase();
}

export function compileTablePattern(text: string): TablePattern {
  const bits = text.split('.');
  // Config validation guarantees two parts; anything else would be a programming error upstream. A malformed
  // pattern matches everything rather than nothing, so a deny rule cannot silently stop working.
  if (bits.length !== 2) return { text, db: null, table: null };
  return { text, db: part(bits[0]!), table: part(bits[1]!) };
}

export function compileColumnPattern(text: string): ColumnPattern {
  const bits = text.split('.');
  if (bits.length !== 3) return { text, db: null, table: null, column: null };
  return { text, db: part(bits[0]!), table: part(bits[1]!), column: part(bits[2]!) };
}

/**
 * A name that may be unknown: null means the SQL left it implicit and it could not be resolved. An unknown name
 * matches every pattern part: whoever asks "could this be app.users?" must get yes when the answer is not known.
 * The classifier writes `*` for "every table of the database" (`DROP DATABASE app`, `GRANT … ON app.*`) and "any
 * column of the table" (NATURAL JOIN): it matches every pattern part too.
 */
export function partMatches(p: Part, name: string | null): boolean {
  return p === null || name === null || name === '*' || p === name;
}

/** A table with its database resolved as far as possible (lower-cased; db null when unknown). */
export interface ResolvedTable {
  db: string | null;
  table: string;
}

export function resolveTable(t: TableRef, currentDb: string | null): ResolvedTable {
  const db = t.db ?? currentDb;
  return { db: db === null ? null : db.toLowerCase(), table: t.table.toLowerCase() };
}

export function tableMatches(p: TablePattern, t: ResolvedTable): boolean {
  return partMatches(p.db, t.db) && partMatches(p.table, t.table);
}

export function formatTable(t: ResolvedTable): string {
  return `${t.db ?? '?'}.${t.table}`;
}

// Statements from the classifier's cache are shared objects: their resolved tables are kept per current database.
const tableCache = new WeakMap<StatementInfo, { db: string | null; tables: ResolvedTable[] }>();

/** Every table a statement reads or writes, resolved and de-duplicated (do not modify the array). */
export function statementTables(s: StatementInfo, currentDb: string | null): readonly ResolvedTable[] {
  const hit = tableCache.get(s);
  if (hit !== undefined && hit.db === currentDb) return hit.tables;
  const tables = resolveTables(s, currentDb);
  tableCache.set(s, { db: currentDb, tables });
  return tables;
}

function resolveTables(s: StatementInfo, currentDb: string | null): ResolvedTable[] {
  const out: ResolvedTable[] = [];
  const seen = new Set<string>();
  for (const list of [s.tablesRead, s.tablesWritten]) {
    for (const t of list) {
      const r = resolveTable(t, currentDb);
      const key = `${r.db ?? ''}\u0000${r.table}`;
      if (seen.has(key)) continue;
      seen.add(key);
      out.push(r);
    }
  }
  return out;
}

/** A column whose table (and database) may be unknown. */
export interface ResolvedColumn {
  db: string | null;
  table: string | null;
  column: string;
}

/**
 * The base columns a column reference may denote. A reference without a table could be a column of any table of
 * the statement (the classifier leaves it unresolved when it cannot tell): every one is a candidate. Without any
 * table at all the table stays unknown, which matches every pattern.
 */
export function columnCandidates(ref: ColumnRef, tables: readonly ResolvedTable[], currentDb: string | null): ResolvedColumn[] {
  const column = ref.column.toLowerCase();
  if (ref.table !== null) {
    const table = ref.table.toLowerCase();
    let db: string | null = ref.db === null ? null : ref.db.toLowerCase();
    if (db === null) {
      const same = tables.find((t) => t.table === table);
      db = same ? same.db : currentDb === null ? null : currentDb.toLowerCase();
    }
    return [{ db, table, column }];
  }
  if (tables.length === 0) return [{ db: ref.db === null ? null : ref.db.toLowerCase(), table: null, column }];
  return tables.map((t) => ({ db: t.db, table: t.table, column }));
}

export function columnMatches(p: ColumnPattern, c: ResolvedColumn): boolean {
  return partMatches(p.db, c.db) && partMatches(p.table, c.table) && partMatches(p.column, c.column);
}

export function formatColumn(c: ResolvedColumn): string {
  return `${c.db ?? '?'}.${c.table ?? '?'}.${c.column}`;
}
