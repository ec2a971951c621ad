// The small syntax tree the parser builds: only what classification and lineage need. Names of databases,
// tables and columns are lower-cased here (MySQL compares column names case-insensitively; table names depend on
// lower_case_table_names, and we match them case-insensitively on purpose: a policy on app.users must also catch
// APP.Users on a server where that names the same table).

export type Expr =
  | { k: 'col'; parts: string[] } // [col] | [table, col] | [db, table, col]
  | { k: 'star'; parts: string[] } // * or t.* or db.t.*
  | { k: 'lit'; v: number | string | boolean | null }
  | { k: 'param' }
  | { k: 'var'; name: string; sys: boolean }
  | { k: 'assign'; name: string; value: Expr } // @x := expr
  | { k: 'func'; name: string; args: Expr[]; over: WindowSpec | null }
  | { k: 'bin'; op: string; l: Expr; r: Expr }
  | { k: 'un'; op: string; e: Expr }
  | { k: 'is'; e: Expr; not: boolean; what: string }
  | { k: 'in'; e: Expr; not: boolean; list: Expr[] }
  | { k: 'between'; e: Expr; lo: Expr; hi: Expr; not: boolean }
  | { k: 'case'; operand: Expr | null; whens: Expr[]; thens: Expr[]; else: Expr | null }
  | { k: 'sub'; q: Query; exists: boolean }
  | { k: 'row'; items: Expr[] };

export interface WindowSpec {
  name: string | null;
  partitionBy: Expr[];
  orderBy: Expr[];
}

export interface SelectItem {
  expr: Expr;
  /** The alias as written, or null. */
  alias: string | null;
  /** The item's text as written (the name MySQL gives an unaliased expression). */
  text: string;
}

export type FromItem =
  | { k: 'table'; db: string | null; table: string; alias: string | null }
  | { k: 'derived'; q: Query; alias: string | null; columns: string[] | null; lateral: boolean }
  | { k: 'tablefunc'; args: Expr[]; alias: string | null } // JSON_TABLE and friends: columns not known
  | { k: 'join'; left: FromItem; right: FromItem; on: Expr | null; using: string[] | null; natural: boolean };

export type Into =
  | { k: 'variable'; vars: string[] }
  | { k: 'outfile'; file: string }
  | { k: 'dumpfile'; file: string };

export interface Cte {
  name: string;
  columns: string[] | null;
  q: Query;
}

export interface SelectBlock {
  k: 'select';
  items: SelectItem[];
  from: FromItem[];
  where: Expr | null;
  groupBy: Expr[];
  having: Expr | null;
  windows: WindowSpec[];
  orderBy: Expr[];
  limit: Expr | null;
  into: Into | null;
  with: Cte[] | null;
  recursive: boolean;
}

export interface SetOp {
  k: 'setop';
  op: string; // UNION, UNION ALL, INTERSECT, EXCEPT …
  left: Query;
  right: Query;
  orderBy: Expr[];
  limit: Expr | null;
  into: Into | null;
  with: Cte[] | null;
  recursive: boolean;
}

/** VALUES (…), (…) / TABLE t used as a query. */
export interface ValuesQuery {
  k: 'values';
  rows: Expr[][];
  with: Cte[] | null;
  recursive: boolean;
}

export interface TableQuery {
  k: 'tableq';
  table: { db: string | null; table: string };
  orderBy: Expr[];
  limit: Expr | null;
  with: Cte[] | null;
  recursive: boolean;
}

export type Query = SelectBlock | SetOp | ValuesQuery | TableQuery;

export interface Assignment {
  target: string[]; // column parts
  value: Expr;
}

export interface InsertStmt {
  k: 'insert';
  replace: boolean;
  table: { db: string | null; table: string };
  alias: string | null;
  columns: string[] | null;
  rows: Expr[][] | null;
  set: Assignment[] | null;
  query: Query | null;
  onDuplicate: Assignment[];
  returning: SelectItem[] | null;
  with: Cte[] | null;
}

export interface UpdateStmt {
  k: 'update';
  from: FromItem[];
  set: Assignment[];
  where: Expr | null;
  orderBy: Expr[];
  limit: Expr | null;
  with: Cte[] | null;
  recursive: boolean;
}

export interface DeleteStmt {
  k: 'delete';
  /** Tables rows are deleted from, as written (alias or name parts). */
  targets: string[][];
  from: FromItem[];
  where: Expr | null;
  orderBy: Expr[];
  limit: Expr | null;
  returning: SelectItem[] | null;
  multi: boolean;
  with: Cte[] | null;
  recursive: boolean;
}
