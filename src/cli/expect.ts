import { fingerprint, splitStatements, stringValue, tokenize } from '../sql/index.ts';
import type { ServerFlavor } from '../sql/types.ts';

/**
 * `sessions verify ID --expect FILE.sql`: did the session run exactly these statements, in this order? Pure.
 *
 * Two ways to call statements equal:
 * - `text` (the default): the normalised text. Comments, spacing, the case of keywords and names, identifier
 *   quoting and the quote character of strings are ignored; every literal must be the same.
 * - `fingerprint`: the literal-normalised fingerprint the gateway records, so `WHERE id = 7` equals `WHERE id = 8`.
 */

export type CompareBy = 'text' | 'fingerprint';

export function normalise(sql: string, flavor: ServerFlavor): string {
  const lx = tokenize(sql, flavor);
  const out: string[] = [];
  for (const t of lx.tokens) {
    switch (t.type) {
      case 'word':
        out.push(t.value);
        break;
      case 'qident':
        out.push(t.value.toUpperCase());
        break;
      case 'string':
        out.push(`'${stringValue(sql, t, flavor).replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`);
        break;
      default:
        out.push(t.type === 'var' || t.type === 'sysvar' ? t.value : sql.slice(t.start, t.end));
    }
  }
  // A trailing `;` is how files end statements and how clients often do not.
  while (out.length && out[out.length - 1] === ';') out.pop();
  return out.join(' ');
}

export function keyOf(sql: string, by: CompareBy, flavor: ServerFlavor): string {
  return by === 'fingerprint' ? fingerprint(sql, flavor) : normalise(sql, flavor);
}

/** The statements of a .sql file, in order (the server's own splitting; empty statements dropped). */
export function statementsOfFile(text: string, flavor: ServerFlavor): string[] {
  return splitStatements(text, flavor).map((s) => s.text).filter((s) => s !== '');
}

export interface Ran {
  /** The event that ran it. */
  seq: number;
  text: string;
}

export type Item =
  | { kind: 'same'; expected: number; ran: Ran; text: string }
  | { kind: 'altered'; expected: number; expectedText: string; ran: Ran }
  | { kind: 'missing'; expected: number; expectedText: string }
  | { kind: 'extra'; ran: Ran };

export interface ExpectReport {
  by: CompareBy;
  same: boolean;
  expected: number;
  ran: number;
  counts: { same: number; altered: number; missing: number; extra: number };
  /** In session order, with missing statements where they were expected. */
  items: Item[];
}

/** Longest common subsequence of two key lists, as index pairs. Above `maxCells` a greedy forward match is used. */
function lcs(a: string[], b: string[], maxCells = 25_000_000): [number, number][] {
  const n = a.length;
  const m = b.length;
  if ((n + 1) * (m + 1) > maxCells) {
    const pairs: [number, number][] = [];
    let j = 0;
    for (let i = 0; i < n && j < m; i++) {
      const k = b.indexOf(a[i]!, j);
      if (k >= 0) {
        pairs.push([i, k]);
        j = k + 1;
      }
    }
    return pairs;
  }
  const w = m + 1;
  const t = new Uint32Array((n + 1) * w);
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      t[i * w + j] = a[i] === b[j] ? t[(i + 1) * w + j + 1]! + 1 : Math.max(t[(i + 1) * w + j]!, t[i * w + j + 1]!);
    }
  }
  const pairs: [number, number][] = [];
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (a[i] === b[j]) {
      pairs.push([i++, j++]);
    } else if (t[(i + 1) * w + j]! >= t[i * w + j + 1]!) i++;
    else j++;
  }
  return pairs;
}

export function compareStatements(expected: string[], ran: Ran[], by: CompareBy, flavor: ServerFlavor): ExpectReport {
  const ek = expected.map((s) => keyOf(s, by, flavor));
  const rk = ran.map((r) => keyOf(r.text, by, flavor));
  const pairs = lcs(ek, rk);
  const items: Item[] = [];
  let i = 0;
  let j = 0;
  // Between two matches, unmatched statements on both sides pair up as "altered"; the rest are missing or extra.
  const gap = (iEnd: number, jEnd: number) => {
    while (i < iEnd && j < jEnd) items.push({ kind: 'altered', expected: i + 1, expectedText: expected[i++]!, ran: ran[j++]! });
    while (i < iEnd) items.push({ kind: 'missing', expected: i + 1, expectedText: expected[i++]! });
    while (j < jEnd) items.push({ kind: 'extra', ran: ran[j++]! });
  };
  for (const [pi, pj] of pairs) {
    gap(pi, pj);
    items.push({ kind: 'same', expected: pi + 1, ran: ran[pj]!, text: expected[pi]! });
    i = pi + 1;
    j = pj + 1;
  }
  gap(expected.length, ran.length);
  const counts = { same: 0, altered: 0, missing: 0, extra: 0 };
  for (const it of items) counts[it.kind]++;
  return {
    by, expected: expected.length, ran: ran.length, counts, items,
    same: counts.altered === 0 && counts.missing === 0 && counts.extra === 0,
  };
}
