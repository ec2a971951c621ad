import type { StatementInfo } from '../sql/types.ts';

/**
 * The keywords of a statement's text, for the few facts the ready pack needs that the classification does not
 * carry as fields (SET GLOBAL, SHUTDOWN, INSTALL PLUGIN, CREATE FUNCTION … SONAME, DROP DATABASE vs TABLE when
 * `object` is absent). The text was already expanded by the classifier (executable comments run), so plain
 * comments and quoted strings are all that is skipped here. This is deliberately not a second SQL lexer: it only
 * lists bare words, so a keyword inside a string or a quoted identifier can never be mistaken for one.
 *
 * Tokens: bare words upper-cased; `(`, `)` and `,`; `@` for a user variable; `@@GLOBAL` / `@@PERSIST` / `@@PERSIST_ONLY` /
 * `@@SESSION` / `@@LOCAL` for a scoped system variable; `'` for a string literal; `` ` `` for a quoted name.
 */

/** Past this many tokens the list is cut short and `truncated` says so (callers then fail closed). */
const MAX_TOKENS = 4096;

export interface Words {
  readonly list: readonly string[];
  readonly truncated: boolean;
}

const cache = new WeakMap<StatementInfo, Words>();

export function wordsOf(s: StatementInfo): Words {
  let w = cache.get(s);
  if (w === undefined) {
    w = scanWords(s.text);
    cache.set(s, w);
  }
  return w;
}

function isWordChar(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 95 || c === 36 || c >= 0x80;
}

function skipQuoted(text: string, i: number, q: number): number {
  // Backslash escapes apply in strings under the default sql_mode; treating them as escapes can only make a
  // string end later, never expose its content as words.
  const n = text.length;
  for (let j = i + 1; j < n; j++) {
    const c = text.charCodeAt(j);
    if (c === 92 && q !== 96) {
      j++;
      continue;
    }
    if (c === q) {
      if (j + 1 < n && text.charCodeAt(j + 1) === q) {
        j++;
        continue;
      }
      return j + 1;
    }
  }
  return n;
}

export function scanWords(text: string): Words {
  const list: string[] = [];
  const n = text.length;
  let i = 0;
  while (i < n) {
    if (list.length >= MAX_TOKENS) return { list, truncated: true };
    const c = text.charCodeAt(i);
    if (c === 47 && text.charCodeAt(i + 1) === 42) {
      const end = text.indexOf('*/', i + 2);
      i = end < 0 ? n : end + 2;
    } else if (c === 35 || (c === 45 && text.charCodeAt(i + 1) === 45 && (i + 2 >= n || text.charCodeAt(i + 2) <= 32))) {
      const end = text.indexOf('\n', i);
      i = end < 0 ? n : end + 1;
    } else if (c === 39 || c === 34) {
      list.push("'");
      i = skipQuoted(text, i, c);
    } else if (c === 96) {
      list.push('`');
      i = skipQuoted(text, i, c);
    } else if (c === 40 || c === 41 || c === 44) {
      list.push(c === 40 ? '(' : c === 41 ? ')' : ',');
      i++;
    } else if (c === 64) {
      if (text.charCodeAt(i + 1) === 64) {
        let j = i + 2;
        while (j < n && isWordChar(text.charCodeAt(j))) j++;
        const scope = text.slice(i + 2, j).toUpperCase();
        // `@@global.x` names a scope; `@@x` alone is the session value.
        list.push(text.charCodeAt(j) === 46 ? `@@${scope}` : '@@SESSION');
        i = j;
      } else {
        list.push('@');
        i++;
        const q = text.charCodeAt(i);
        if (q === 39 || q === 34 || q === 96) i = skipQuoted(text, i, q);
        else while (i < n && (isWordChar(text.charCodeAt(i)) || text.charCodeAt(i) === 46)) i++;
      }
    } else if (isWordChar(c)) {
      let j = i + 1;
      while (j < n && isWordChar(text.charCodeAt(j))) j++;
      // Numbers are not words; neither is the tail of a qualified name, which still counts as a word here
      // (`db.GLOBAL` cannot be a scope keyword, but it is harmless to list: rules look at positions).
      if (!(c >= 48 && c <= 57)) list.push(text.slice(i, j).toUpperCase());
      i = j;
    } else {
      i++;
    }
  }
  return { list, truncated: false };
}

/** Index of the first bare word (skipping leading parentheses), or -1. */
export function firstWordIndex(w: Words): number {
  for (let i = 0; i < w.list.length; i++) {
    const t = w.list[i]!;
    if (t === '(') continue;
    const c = t.charCodeAt(0);
    return (c >= 65 && c <= 90) || c === 95 || c === 36 ? i : -1;
  }
  return -1;
}

export function firstWord(w: Words): string | null {
  const i = firstWordIndex(w);
  return i < 0 ? null : w.list[i]!;
}

/** The words from the first one on, skipping the modifiers that may sit between a verb and its object. */
export function afterSkipping(w: Words, from: number, skip: ReadonlySet<string>): number {
  let i = from;
  while (i < w.list.length && skip.has(w.list[i]!)) i++;
  return i;
}
