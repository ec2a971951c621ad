// SQL highlighting without a dependency: one pass of a small scanner over the text, each token a span whose class
// the stylesheet colours. It only colours: nothing is parsed or judged here.
import { memo } from 'react';

const KEYWORDS = new Set(`
ADD ALL ALTER AND ANY AS ASC BEGIN BETWEEN BY CALL CASE CHANGE COLUMN COMMIT CREATE CROSS DATABASE DEFAULT DELETE DESC
DESCRIBE DISTINCT DO DROP DUPLICATE ELSE END ESCAPE EXECUTE EXISTS EXPLAIN FALSE FLUSH FOR FOREIGN FROM FULL FUNCTION
GRANT GROUP HAVING IF IGNORE IN INDEX INFILE INNER INSERT INTERVAL INTO IS JOIN KEY KILL LEFT LIKE LIMIT LOAD LOCAL
LOCK NOT NULL OFFSET ON OR ORDER OUTER OUTFILE PREPARE PRIMARY PROCEDURE RENAME REPLACE REVOKE RIGHT ROLLBACK
SCHEMA SELECT SET SHOW START TABLE TABLES TEMPORARY THEN TO TRANSACTION TRIGGER TRUE TRUNCATE UNION UNIQUE UNLOCK
UPDATE USE USING VALUES VIEW WHEN WHERE WITH
`.trim().split(/\s+/));

export type TokenKind = 'kw' | 'str' | 'num' | 'com' | 'id' | 'op' | 'ph' | 'var' | 'ws' | 'txt';

export interface Token {
  kind: TokenKind;
  text: string;
}

function quoted(sql: string, i: number, q: string): number {
  let j = i + 1;
  while (j < sql.length) {
    const c = sql[j];
    if (c === '\\' && q !== '`') j += 2;
    else if (c === q) {
      if (sql[j + 1] === q) j += 2;
      else return j + 1;
    } else j++;
  }
  return sql.length;
}

export function tokenize(sql: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  const push = (kind: TokenKind, end: number) => {
    out.push({ kind, text: sql.slice(i, end) });
    i = end;
  };
  while (i < sql.length) {
    const c = sql[i]!;
    const rest = sql.slice(i, i + 3);
    if (/\s/.test(c)) {
      let j = i + 1;
      while (j < sql.length && /\s/.test(sql[j]!)) j++;
      push('ws', j);
    } else if (rest.startsWith('--') && (sql[i + 2] === undefined || /\s/.test(sql[i + 2]!)) || c === '#') {
      const j = sql.indexOf('\n', i);
      push('com', j < 0 ? sql.length : j);
    } else if (rest.startsWith('/*')) {
      const j = sql.indexOf('*/', i + 2);
      push('com', j < 0 ? sql.length : j + 2);
    } else if (c === "'" || c === '"') {
      push('str', quoted(sql, i, c));
    } else if (c === '`') {
      push('id', quoted(sql, i, c));
    } else if (/[0-9]/.test(c) || (c === '.' && /[0-9]/.test(sql[i + 1] ?? ''))) {
      const m = /^(0x[0-9a-f]+|[0-9]*\.?[0-9]+(e[+-]?[0-9]+)?)/i.exec(sql.slice(i));
      push('num', i + (m ? m[0].length : 1));
    } else if (c === '?') {
      push('ph', i + 1);
    } else if (c === '@') {
      const m = /^@@?[A-Za-z0-9_.$]*/.exec(sql.slice(i));
      push('var', i + (m ? m[0].length : 1));
    } else if (/[A-Za-z_$\u0080-\uffff]/.test(c)) {
      const m = /^[A-Za-z0-9_$\u0080-\uffff]+/.exec(sql.slice(i))!;
      push(KEYWORDS.has(m[0].toUpperCase()) ? 'kw' : 'txt', i + m[0].length);
    } else {
      push('op', i + 1);
    }
  }
  return out;
}

/** SQL in a <code>, highlighted; `inline` keeps it to one line (lists). */
export const Sql = memo(function Sql({ sql, inline = false }: { sql: string; inline?: boolean }) {
  const tokens = tokenize(inline ? sql.replace(/\s+/g, ' ') : sql);
  const body = tokens.map((t, i) => (t.kind === 'ws' || t.kind === 'txt' || t.kind === 'op'
    ? t.text
    : <span key={i} className={`sql-${t.kind}`}>{t.text}</span>));
  if (inline) return <code className="sql sql-inline">{body}</code>;
  return <pre className="sql" tabIndex={0} aria-label="SQL statement"><code>{body}</code></pre>;
});
