// A single-pass MySQL/MariaDB lexer. It expands executable comments while it scans (the server does the same:
// `/*!` switches its lexer into "inside a comment, but echo tokens" and the next `*/` switches it back), so no
// other part of the classifier ever sees the text the way a naive parser would.
//
// Behaviour checked against MariaDB 10.11 (sql_lex.cc and a live server):
// - `/*!` followed by 5 digits, or 6 when the sixth character is a digit, is a versioned comment; fewer digits
//   means "no version" and the digits are part of the code (`/*!1234 x */` runs `1234 x`). MySQL (5.7/8.0)
//   reads exactly 5 digits.
// - MariaDB ignores `/*!NNNNN` for NNNNN in 50700..99999 (MySQL 5.7+ only syntax) unless written `/*M!NNNNN`.
// - `/*M!…*/` runs only on MariaDB; MySQL sees a plain comment.
// - A versioned comment that does not run may contain one nested `/* … */`.
// - Inside a running comment a nested `/*!…` runs too, and the first `*/` ends the running state (one flag, no
//   depth): `/*!50000 + /*!50000 2 */ 3 */` leaves `3 */` outside any comment.
// - `--` starts a comment only when followed by whitespace, a control character or the end of the text.
// - `#` and `-- ` comments end at `\n` only (a `\r` does not end them).
import type { ServerFlavor } from './types.ts';

export type TokenType =
  | 'word' // keyword or bare identifier; value is upper-cased
  | 'qident' // `quoted identifier` (or "x" under ANSI_QUOTES); value is the unquoted name
  | 'string' // '…' / "…" / N'…'; value is '' (decode with stringValue)
  | 'number' // 12, 1.5, .5, 1e5
  | 'hex' // X'41', 0x41
  | 'bit' // B'01', 0b01
  | 'var' // @x, @'x', @`x`; value is the lower-cased name
  | 'sysvar' // @@x, @@global.x; value is the lower-cased name with scope
  | 'param' // ?
  | 'null' // \N
  | 'op' // operators and punctuation, value is the text
  | 'unknown'; // a character MySQL would reject

export interface Token {
  type: TokenType;
  /** Offsets into the original text. */
  start: number;
  end: number;
  value: string;
  /** Set on a string, quoted identifier or comment that reached the end of the text unterminated. */
  bad?: boolean;
}

export interface LexResult {
  tokens: Token[];
  /** Ranges [start, end) of executable-comment markers (`/*!50000`, `*\/`) removed by the expansion, in order. */
  cuts: number[];
  /** Something was unterminated (string, identifier, comment, running executable comment). */
  error: boolean;
  /** A string literal contains a backslash, so NO_BACKSLASH_ESCAPES would change how the text reads. */
  backslashInString: boolean;
  /** Number of comments (including executed ones) seen; used to decide whether fingerprints must drop them. */
  comments: number;
}

const CH_TAB = 9, CH_NL = 10, CH_CR = 13, CH_SP = 32, CH_BANG = 33, CH_DQ = 34, CH_HASH = 35, CH_DOLLAR = 36;
const CH_SQ = 39, CH_LP = 40, CH_STAR = 42, CH_PLUS = 43, CH_MINUS = 45, CH_DOT = 46, CH_SLASH = 47;
const CH_0 = 48, CH_1 = 49, CH_9 = 57, CH_COLON = 58, CH_LT = 60, CH_EQ = 61, CH_GT = 62, CH_Q = 63, CH_AT = 64;
const CH_BSL = 92, CH_US = 95, CH_BT = 96, CH_PIPE = 124, CH_AMP = 38;

/** Identifier characters of unquoted names: MySQL allows [0-9a-zA-Z$_] and anything from U+0080 on. */
export function isIdentChar(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= CH_0 && c <= CH_9) || c === CH_US ||
    c === CH_DOLLAR || c >= 0x80;
}

function isDigit(c: number): boolean {
  return c >= CH_0 && c <= CH_9;
}

function isHexDigit(c: number): boolean {
  return (c >= CH_0 && c <= CH_9) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70);
}

/** Whitespace as MySQL's ctype tables define it: space, \t \n \v \f \r. */
function isSpace(c: number): boolean {
  return c === CH_SP || (c >= CH_TAB && c <= CH_CR);
}

/** Decides whether `/*!NNNNN` (or `/*M!NNNNN` when maria is set) with this version runs on the flavor. */
export function versionedCommentRuns(version: number, maria: boolean, flavor: ServerFlavor): boolean {
  if (version > flavor.version) return false;
  // MariaDB skips MySQL 5.7+ versioned comments, since they may carry syntax it lacks (sql_lex.cc).
  if (flavor.mariadb && !maria && version >= 50700 && version <= 99999) return false;
  return true;
}

/**
 * Tokenizes `sql` as the server described by `flavor` would, expanding executable comments. Never throws: an
 * unterminated construct yields a `bad` token (or none, for a comment) and `error: true`.
 */
export function tokenize(sql: string, flavor: ServerFlavor): LexResult {
  const n = sql.length;
  const tokens: Token[] = [];
  const cuts: number[] = [];
  const backslash = flavor.noBackslashEscapes !== true;
  const ansiQuotes = flavor.ansiQuotes === true;
  let error = false;
  let backslashInString = false;
  let comments = 0;
  let inExec = false; // inside a running executable comment
  let identNext = false; // the previous token was `ident .`: a name follows even if it starts with a digit
  let nextBackslash = sql.indexOf('\\');
  let i = 0;

  while (i < n) {
    const c = sql.charCodeAt(i);
    if (isSpace(c)) {
      i++;
      continue;
    }
    const start = i;
    const afterDot = identNext;
    identNext = false;

    // Comments and executable comments.
    if (c === CH_SLASH && i + 1 < n && sql.charCodeAt(i + 1) === CH_STAR) {
      comments++;
      const c2 = i + 2 < n ? sql.charCodeAt(i + 2) : 0;
      const maria = c2 === 77 /* M */ && i + 3 < n && sql.charCodeAt(i + 3) === CH_BANG;
      if (c2 === CH_BANG || (maria && flavor.mariadb)) {
        let p = i + (maria ? 4 : 3);
        let digits = 0;
        // MariaDB reads 5 digits, or 6 when the sixth is a digit (10.x versions); MySQL reads exactly 5.
        const maxDigits = flavor.mariadb ? 6 : 5;
        while (digits < maxDigits && p + digits < n && isDigit(sql.charCodeAt(p + digits))) digits++;
        let runs = true;
        if (digits >= 5) {
          const version = Number(sql.slice(p, p + digits));
          runs = versionedCommentRuns(version, maria, flavor);
          p += digits;
        }
        if (runs) {
          cuts.push(i, p);
          inExec = true;
          i = p;
          continue;
        }
        // A versioned comment that does not run: skip it, allowing one nested comment (consume_comment(lip, 1)).
        i = skipComment(sql, p, 1);
        if (i < 0) {
          error = true;
          i = n;
        }
        continue;
      }
      i = skipComment(sql, i + 2, 0);
      if (i < 0) {
        error = true;
        i = n;
      }
      continue;
    }
    if (c === CH_STAR && inExec && i + 1 < n && sql.charCodeAt(i + 1) === CH_SLASH) {
      cuts.push(i, i + 2);
      inExec = false;
      i += 2;
      continue;
    }
    if (c === CH_HASH || (c === CH_MINUS && i + 1 < n && sql.charCodeAt(i + 1) === CH_MINUS &&
      (i + 2 >= n || sql.charCodeAt(i + 2) <= CH_SP || sql.charCodeAt(i + 2) === 127))) {
      comments++;
      const nl = sql.indexOf('\n', i);
      i = nl < 0 ? n : nl + 1;
      continue;
    }

    // Strings and quoted identifiers.
    if (c === CH_SQ || (c === CH_DQ && !ansiQuotes)) {
      const r = scanQuoted(sql, i + 1, c, backslash);
      const bad = r < 0;
      const end = bad ? n : r;
      if (bad) error = true;
      if (backslash && !backslashInString && nextBackslash >= 0) {
        if (nextBackslash < i) nextBackslash = sql.indexOf('\\', i);
        if (nextBackslash >= 0 && nextBackslash < end) backslashInString = true;
      }
      tokens.push(bad ? { type: 'string', start, end, value: '', bad } : { type: 'string', start, end, value: '' });
      i = end;
      continue;
    }
    if (c === CH_BT || (c === CH_DQ && ansiQuotes)) {
      const r = scanQuoted(sql, i + 1, c, false);
      const bad = r < 0;
      const end = bad ? n : r;
      if (bad) error = true;
      const q = c === CH_BT ? '`' : '"';
      const raw = sql.slice(i + 1, bad ? n : end - 1);
      const value = raw.indexOf(q) >= 0 ? raw.split(q + q).join(q) : raw;
      tokens.push(bad ? { type: 'qident', start, end, value, bad } : { type: 'qident', start, end, value });
      i = end;
      if (i < n && sql.charCodeAt(i) === CH_DOT) identNext = true;
      continue;
    }

    // Numbers (and names that begin with digits).
    if (isDigit(c) || (c === CH_DOT && !afterDot && i + 1 < n && isDigit(sql.charCodeAt(i + 1)) &&
      !(tokens.length > 0 && tokens[tokens.length - 1]!.end === i && isNameToken(tokens[tokens.length - 1]!)))) {
      if (afterDot) {
        i = scanWord(sql, i);
        tokens.push({ type: 'word', start, end: i, value: sql.slice(start, i).toUpperCase() });
        if (i < n && sql.charCodeAt(i) === CH_DOT) identNext = true;
        continue;
      }
      const t = scanNumber(sql, i);
      tokens.push(t);
      i = t.end;
      if (t.type === 'word' && i < n && sql.charCodeAt(i) === CH_DOT) identNext = true;
      continue;
    }

    // Words, with the X'..', B'..', N'..' literal prefixes.
    if (isIdentChar(c)) {
      if (i + 1 < n && sql.charCodeAt(i + 1) === CH_SQ && !afterDot) {
        const u = c | 0x20;
        if (u === 120 /* x */ || u === 98 /* b */ || u === 110 /* n */) {
          const r = scanQuoted(sql, i + 2, CH_SQ, u === 110 && backslash);
          const bad = r < 0;
          const end = bad ? n : r;
          if (bad) error = true;
          const type = u === 120 ? 'hex' : u === 98 ? 'bit' : 'string';
          tokens.push(bad ? { type, start, end, value: '', bad } : { type, start, end, value: '' });
          i = end;
          continue;
        }
      }
      i = scanWord(sql, i);
      tokens.push({ type: 'word', start, end: i, value: sql.slice(start, i).toUpperCase() });
      if (i < n && sql.charCodeAt(i) === CH_DOT) identNext = true;
      continue;
    }

    // Variables.
    if (c === CH_AT) {
      if (i + 1 < n && sql.charCodeAt(i + 1) === CH_AT) {
        let p = i + 2;
        while (p < n && (isIdentChar(sql.charCodeAt(p)) || sql.charCodeAt(p) === CH_DOT)) p++;
        if (p < n && sql.charCodeAt(p) === CH_BT) {
          const r = scanQuoted(sql, p + 1, CH_BT, false);
          p = r < 0 ? n : r;
          if (r < 0) error = true;
        }
        tokens.push({ type: 'sysvar', start, end: p, value: sql.slice(i + 2, p).replace(/`/g, '').toLowerCase() });
        i = p;
        continue;
      }
      const q = i + 1 < n ? sql.charCodeAt(i + 1) : 0;
      if (q === CH_SQ || q === CH_DQ || q === CH_BT) {
        const r = scanQuoted(sql, i + 2, q, q !== CH_BT && backslash);
        const bad = r < 0;
        const end = bad ? n : r;
        if (bad) error = true;
        const value = sql.slice(i + 2, bad ? n : end - 1).toLowerCase();
        tokens.push(bad ? { type: 'var', start, end, value, bad } : { type: 'var', start, end, value });
        i = end;
        continue;
      }
      let p = i + 1;
      while (p < n && (isIdentChar(sql.charCodeAt(p)) || sql.charCodeAt(p) === CH_DOT)) p++;
      if (p === i + 1) {
        tokens.push({ type: 'op', start, end: p, value: '@' });
      } else {
        tokens.push({ type: 'var', start, end: p, value: sql.slice(i + 1, p).toLowerCase() });
      }
      i = p;
      continue;
    }

    if (c === CH_Q) {
      tokens.push({ type: 'param', start, end: i + 1, value: '?' });
      i++;
      continue;
    }
    if (c === CH_BSL && i + 1 < n && sql.charCodeAt(i + 1) === 78 /* N */) {
      tokens.push({ type: 'null', start, end: i + 2, value: 'NULL' });
      i += 2;
      continue;
    }

    // Operators: the longest match wins.
    const op = operatorAt(sql, i, c);
    if (op !== '') {
      tokens.push({ type: 'op', start, end: i + op.length, value: op });
      i += op.length;
      if (op === '.' && tokens.length > 1 && isNameToken(tokens[tokens.length - 2]!)) identNext = true;
      continue;
    }
    tokens.push({ type: 'unknown', start, end: i + 1, value: sql[i]! });
    i++;
  }
  if (inExec) error = true; // MariaDB rejects a running executable comment that never closes
  return { tokens, cuts, error, backslashInString, comments };
}

function isNameToken(t: Token): boolean {
  return t.type === 'word' || t.type === 'qident';
}

/** Skips a comment body starting at `p` (just after the opener); returns the index after `*\/`, or -1. */
function skipComment(sql: string, p: number, nestAllowed: number): number {
  const n = sql.length;
  while (p < n) {
    const c = sql.charCodeAt(p);
    if (nestAllowed > 0 && c === CH_SLASH && p + 1 < n && sql.charCodeAt(p + 1) === CH_STAR) {
      const r = skipComment(sql, p + 2, nestAllowed - 1);
      if (r < 0) return -1;
      p = r;
      continue;
    }
    if (c === CH_STAR && p + 1 < n && sql.charCodeAt(p + 1) === CH_SLASH) return p + 2;
    p++;
  }
  return -1;
}

/** Scans a quoted section after its opening quote; returns the index after the closing quote, or -1. */
function scanQuoted(sql: string, p: number, quote: number, backslash: boolean): number {
  const n = sql.length;
  while (p < n) {
    const c = sql.charCodeAt(p);
    if (c === CH_BSL && backslash) {
      p += 2;
      continue;
    }
    if (c === quote) {
      if (p + 1 < n && sql.charCodeAt(p + 1) === quote) {
        p += 2; // doubled quote
        continue;
      }
      return p + 1;
    }
    p++;
  }
  return -1;
}

function scanWord(sql: string, p: number): number {
  const n = sql.length;
  while (p < n && isIdentChar(sql.charCodeAt(p))) p++;
  return p;
}

/** A number, or a name when digits run into letters (`123abc`, `0x1g` are identifiers in MySQL). */
function scanNumber(sql: string, start: number): Token {
  const n = sql.length;
  let p = start;
  const c0 = sql.charCodeAt(p);
  if (c0 === CH_0 && p + 1 < n) {
    const c1 = sql.charCodeAt(p + 1) | 0x20;
    if (c1 === 120 /* x */ || c1 === 98 /* b */) {
      let q = p + 2;
      if (c1 === 120) while (q < n && isHexDigit(sql.charCodeAt(q))) q++;
      else while (q < n && (sql.charCodeAt(q) === CH_0 || sql.charCodeAt(q) === CH_1)) q++;
      if (q > p + 2 && (q >= n || !isIdentChar(sql.charCodeAt(q)))) {
        return { type: c1 === 120 ? 'hex' : 'bit', start, end: q, value: sql.slice(start, q) };
      }
      const e = scanWord(sql, p);
      return { type: 'word', start, end: e, value: sql.slice(start, e).toUpperCase() };
    }
  }
  while (p < n && isDigit(sql.charCodeAt(p))) p++;
  let real = false;
  if (p < n && sql.charCodeAt(p) === CH_DOT) {
    real = true;
    p++;
    while (p < n && isDigit(sql.charCodeAt(p))) p++;
  }
  if (p < n && (sql.charCodeAt(p) | 0x20) === 101 /* e */) {
    let q = p + 1;
    if (q < n && (sql.charCodeAt(q) === CH_PLUS || sql.charCodeAt(q) === CH_MINUS)) q++;
    if (q < n && isDigit(sql.charCodeAt(q))) {
      while (q < n && isDigit(sql.charCodeAt(q))) q++;
      return { type: 'number', start, end: q, value: sql.slice(start, q) };
    }
  }
  if (!real && p < n && isIdentChar(sql.charCodeAt(p))) {
    const e = scanWord(sql, p);
    return { type: 'word', start, end: e, value: sql.slice(start, e).toUpperCase() };
  }
  return { type: 'number', start, end: p, value: sql.slice(start, p) };
}

function operatorAt(sql: string, i: number, c: number): string {
  const n = sql.length;
  const d = i + 1 < n ? sql.charCodeAt(i + 1) : 0;
  switch (c) {
    case CH_LT:
      if (d === CH_EQ) return i + 2 < n && sql.charCodeAt(i + 2) === CH_GT ? '<=>' : '<=';
      if (d === CH_GT) return '<>';
      if (d === CH_LT) return '<<';
      return '<';
    case CH_GT:
      if (d === CH_EQ) return '>=';
      if (d === CH_GT) return '>>';
      return '>';
    case CH_BANG:
      return d === CH_EQ ? '!=' : '!';
    case CH_COLON:
      return d === CH_EQ ? ':=' : ':';
    case CH_PIPE:
      return d === CH_PIPE ? '||' : '|';
    case CH_AMP:
      return d === CH_AMP ? '&&' : '&';
    case CH_MINUS:
      if (d === CH_GT) return i + 2 < n && sql.charCodeAt(i + 2) === CH_GT ? '->>' : '->';
      return '-';
    case CH_EQ: case CH_PLUS: case CH_STAR: case CH_SLASH: case 37 /* % */: case 94 /* ^ */: case 126 /* ~ */:
    case CH_LP: case 41 /* ) */: case 44 /* , */: case 59 /* ; */: case CH_DOT: case 123 /* { */: case 125 /* } */:
      return sql[i]!;
    default:
      return '';
  }
}

/**
 * The value of a string token (without introducer handling): quotes removed, doubled quotes and backslash escapes
 * decoded as MySQL does (`\n`, `\t`, `\0`, `\Z`, `\b`, `\r`; `\%` and `\_` keep their backslash; any other `\x` is x).
 */
export function stringValue(sql: string, t: Token, flavor?: ServerFlavor): string {
  let p = t.start;
  const first = sql.charCodeAt(p);
  if (first !== CH_SQ && first !== CH_DQ) p++; // N'…'
  const quote = sql.charCodeAt(p);
  const end = t.bad ? t.end : t.end - 1;
  const backslash = quote === CH_SQ || quote === CH_DQ ? flavor?.noBackslashEscapes !== true : false;
  let out = '';
  let from = p + 1;
  for (let k = p + 1; k < end; k++) {
    const c = sql.charCodeAt(k);
    if (c === quote && k + 1 < end && sql.charCodeAt(k + 1) === quote) {
      out += sql.slice(from, k + 1);
      k++;
      from = k + 1;
    } else if (c === CH_BSL && backslash && k + 1 < end) {
      out += sql.slice(from, k);
      const e = sql[k + 1]!;
      switch (e) {
        case 'n': out += '\n'; break;
        case 't': out += '\t'; break;
        case 'r': out += '\r'; break;
        case 'b': out += '\b'; break;
        case '0': out += '\0'; break;
        case 'Z': out += '\x1a'; break;
        case '%': case '_': out += '\\' + e; break;
        default: out += e;
      }
      k++;
      from = k + 1;
    }
  }
  return out + sql.slice(from, end);
}
