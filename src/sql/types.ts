/** Statement kinds of the contract. A statement carries every kind it contains. */
export const STATEMENT_KINDS = [
  'select', 'insert', 'update', 'delete', 'replace', 'create', 'alter', 'drop', 'truncate', 'rename', 'grant',
  'revoke', 'set', 'use', 'show', 'describe', 'explain', 'call', 'do', 'load_data', 'into_outfile', 'lock',
  'transaction', 'prepare', 'kill', 'flush', 'other',
] as const;
export type StatementKind = (typeof STATEMENT_KINDS)[number];

/** A table as written in the SQL; `db` is null when unqualified (the session's current schema applies). */
export interface TableRef {
  db: string | null;
  table: string;
}

/** A column of a base table; `db`/`table` null when the SQL left them implicit and they could not be resolved. */
export interface ColumnRef {
  db: string | null;
  table: string | null;
  column: string;
}

/** Where one output column of a SELECT comes from. */
export interface OutputColumn {
  /** Position in the result (0-based). */
  index: number;
  /** The name the client sees (alias or expression text), when the parser knows it. */
  name: string | null;
  /** Every base column the value is computed from (through functions, subqueries, derived tables, CTEs, UNION branches). */
  sources: ColumnRef[];
  /** True when the value is not a plain column reference (function, expression, aggregate, …). */
  computed: boolean;
  /** `t.*` or `*` whose expansion the parser could not know: every column of these tables may appear. */
  star?: TableRef[];
  /**
   * Set when a `*` of unknown width comes earlier in the select list: `index` then counts that star as one
   * column, so the real result position is not known and columns must be matched by name or column origin.
   */
  indexUncertain?: boolean;
}

/** One statement of a (possibly multi-) statement text. */
export interface StatementInfo {
  kinds: StatementKind[];
  /** The statement text after executable comments were expanded, trimmed. */
  text: string;
  tablesRead: TableRef[];
  tablesWritten: TableRef[];
  /** UPDATE/DELETE: null when not a write of that kind; otherwise whether it can touch every row of a table. */
  unboundedWrite: boolean | null;
  /** Base columns used to filter, sort, group or join (WHERE, HAVING, ON, USING, ORDER BY, GROUP BY). */
  predicateColumns: ColumnRef[];
  /** SELECT output lineage, in result order; null when not a row-returning statement or not parsed. */
  outputColumns: OutputColumn[] | null;
  /** `SELECT … INTO @var`, `INTO OUTFILE`, `INTO DUMPFILE`, `SET @x := col`. */
  into: 'variable' | 'outfile' | 'dumpfile' | null;
  /** LOAD DATA LOCAL INFILE (the client sends a file). */
  localInfile: boolean;
  /** For PREPARE name FROM '…': the inner statement, classified too. */
  prepared?: StatementInfo[];
  /** For EXPLAIN/DESCRIBE/ANALYZE of a statement: that statement, classified (see README of src/sql). */
  explained?: StatementInfo;
  /**
   * Statements inside a compound statement (`BEGIN NOT ATOMIC … END`, `IF … END IF`) or inside the body of a
   * stored program being created (`CREATE PROCEDURE/FUNCTION/TRIGGER/EVENT`). For an anonymous block their
   * kinds are also the block's kinds (they run now); for a stored program they run later and are listed only.
   */
  body?: StatementInfo[];
  /** DDL and account statements: the kind of object acted on (`table`, `database`, `user`, `procedure`, …). */
  object?: string;
  /** True when the parser understood the whole statement; false when only the lexer classified it. */
  parsed: boolean;
}

export interface Classification {
  /** Union of the kinds of every statement, in contract order. */
  kinds: StatementKind[];
  statements: StatementInfo[];
  /** Literal-normalised fingerprint of the whole text (after executable comment expansion). */
  fingerprint: string;
  /** True when every statement was parsed; rules that must be sure fail closed when false. */
  parsed: boolean;
  /**
   * True when the classification depends on a literal value (so two texts with the same fingerprint may be
   * classified differently): `PREPARE s FROM 'DROP …'`, `WHERE 1=1` vs `WHERE 1=2`, `ORDER BY 2`, `LIMIT n`, …
   * A decision may be cached by fingerprint only when this is false.
   */
  literalDependent?: boolean;
}

/** How the upstream server runs executable comments. */
export interface ServerFlavor {
  /** e.g. 101119 for 10.11.19; used by `/*!NNNNN … *\/`. */
  version: number;
  /** MariaDB also runs `/*M! … *\/` and `/*M!NNNNNN … *\/`. */
  mariadb: boolean;
  /**
   * The session's sql_mode has NO_BACKSLASH_ESCAPES: `\` is an ordinary character inside strings. Unknown
   * (undefined) means "default mode"; the classifier then also checks the other reading and fails closed when
   * the two disagree.
   */
  noBackslashEscapes?: boolean;
  /** The session's sql_mode has ANSI_QUOTES: `"…"` is an identifier, not a string. */
  ansiQuotes?: boolean;
}
