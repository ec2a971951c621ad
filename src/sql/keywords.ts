// Keyword tables. RESERVED are words MySQL/MariaDB do not accept as bare identifiers (so they never start an
// implicit alias and never name a column unquoted); only the ones that matter to this parser are listed, which
// errs on the side of failing to parse (then the statement is classified from its keywords and marked unparsed).

export const RESERVED = new Set([
  'ACCESSIBLE', 'ADD', 'ALL', 'ALTER', 'ANALYZE', 'AND', 'AS', 'ASC', 'BETWEEN', 'BOTH', 'BY', 'CALL', 'CASCADE',
  'CASE', 'CHANGE', 'CHECK', 'COLLATE', 'COLUMN', 'CONSTRAINT', 'CREATE', 'CROSS', 'CURRENT_DATE', 'CURRENT_TIME',
  'CURRENT_TIMESTAMP', 'CURRENT_USER', 'DATABASE', 'DATABASES', 'DEFAULT', 'DELETE', 'DESC', 'DESCRIBE', 'DISTINCT',
  'DISTINCTROW', 'DIV', 'DROP', 'DUAL', 'ELSE', 'ELSEIF', 'EXCEPT', 'EXISTS', 'EXPLAIN', 'FALSE', 'FETCH', 'FOR',
  'FORCE', 'FOREIGN', 'FROM', 'FULLTEXT', 'GRANT', 'GROUP', 'HAVING', 'HIGH_PRIORITY', 'IF', 'IGNORE', 'IN', 'INDEX',
  'INFILE', 'INNER', 'INSERT', 'INTERSECT', 'INTERVAL', 'INTO', 'IS', 'JOIN', 'KEY', 'KEYS', 'KILL', 'LATERAL',
  'LEADING', 'LEFT', 'LIKE', 'LIMIT', 'LINES', 'LOAD', 'LOCK', 'LOW_PRIORITY', 'MATCH', 'MOD', 'NATURAL', 'NOT',
  'NULL', 'OFFSET', 'ON', 'OPTIMIZE', 'OPTION', 'OR', 'ORDER', 'OUTER', 'OUTFILE', 'PARTITION', 'PRIMARY',
  'PROCEDURE', 'PURGE', 'READ', 'REFERENCES', 'REGEXP', 'RENAME', 'REPLACE', 'REQUIRE', 'RETURNING', 'REVOKE',
  'RIGHT', 'RLIKE', 'SELECT', 'SET', 'SHOW', 'SQL_CALC_FOUND_ROWS', 'STRAIGHT_JOIN', 'TABLE', 'TERMINATED', 'THEN',
  'TO', 'TRAILING', 'TRUE', 'UNION', 'UNIQUE', 'UNLOCK', 'UPDATE', 'USAGE', 'USE', 'USING', 'VALUES', 'WHEN', 'WHERE',
  'WINDOW', 'WITH', 'WRITE', 'XOR', 'ESCAPED', 'ENCLOSED', 'OPTIONALLY', 'STARTING', 'SEPARATOR', 'ROWS', 'RANGE',
  'OVER', 'LOCALTIME', 'LOCALTIMESTAMP', 'UTC_DATE', 'UTC_TIME', 'UTC_TIMESTAMP', 'SQL_BIG_RESULT',
  'SQL_SMALL_RESULT', 'SQL_BUFFER_RESULT', 'BINARY', 'UNDO', 'LOOP', 'WHILE', 'REPEAT', 'LEAVE', 'ITERATE',
  'DECLARE', 'RETURN', 'CURSOR', 'CONTINUE', 'EXIT', 'SIGNAL', 'RESIGNAL', 'HANDLER',
]);

/** Words a fingerprint writes upper-case; anything else keeps the case it was written in. */
export const FINGERPRINT_KEYWORDS = new Set([
  ...RESERVED, 'BEGIN', 'COMMIT', 'ROLLBACK', 'START', 'TRANSACTION', 'SAVEPOINT', 'PREPARE', 'EXECUTE',
  'DEALLOCATE', 'TRUNCATE', 'FLUSH', 'RESET', 'GLOBAL', 'SESSION', 'LOCAL', 'PASSWORD', 'USER', 'ROLE', 'VIEW',
  'TRIGGER', 'EVENT', 'FUNCTION', 'SCHEMA', 'TABLES', 'DO', 'HANDLER', 'XA', 'END', 'COUNT', 'SUM', 'MIN', 'MAX',
  'AVG', 'DUPLICATE', 'VALUE', 'NAMES', 'STATUS', 'VARIABLES', 'COLUMNS', 'FIELDS', 'PROCESSLIST', 'WORK', 'QUICK',
  'RECURSIVE', 'DATA', 'XML', 'TEMPORARY', 'SHARE', 'MODE', 'NOWAIT', 'SKIP', 'LOCKED', 'OF', 'ANY', 'SOME',
]);
