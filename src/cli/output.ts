import type { CellValue } from '../protocol/rows.ts';

/**
 * Human output: aligned tables, times in UTC, cells as the client received them. Written to stdout; diagnostics go
 * to stderr. `--json` output bypasses all of this and prints one document.
 */

export function out(text = ''): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

export function printJson(doc: unknown): void {
  process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
}

/** `2026-01-31 12:00:05Z`: UTC, to the second. */
export function time(iso: string | null | undefined): string {
  if (!iso) return '-';
  const t = Date.parse(iso);
  if (!Number.isFinite(t)) return iso;
  return new Date(t).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

/** `0.42 ms`, `12.3 ms`, `4.1 s`. */
export function ms(v: number | undefined): string {
  if (v === undefined) return '-';
  if (v < 10) return `${v.toFixed(2)} ms`;
  if (v < 1000) return `${v.toFixed(1)} ms`;
  return `${(v / 1000).toFixed(1)} s`;
}

/** A gap between two events, for replays: `+1.2s`, `+3m04s`. */
export function gap(msValue: number): string {
  if (msValue < 60_000) return `+${(msValue / 1000).toFixed(1)}s`;
  const s = Math.round(msValue / 1000);
  if (s < 3600) return `+${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `+${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** One line: control characters made visible, cut at `max` with an ellipsis. */
export function oneLine(s: string, max = Infinity): string {
  const flat = s.replace(/\r?\n/g, '⏎').replace(/\t/g, ' ').replace(/[\x00-\x08\x0b-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return flat.length > max ? `${flat.slice(0, Math.max(1, max - 1))}…` : flat;
}

/** A result cell: NULL, bytes as hex, text as received. */
export function cell(v: CellValue | undefined, max = 40): string {
  if (v === null) return 'NULL';
  if (v === undefined) return '';
  if (typeof v === 'object') {
    const b = Buffer.from(v.base64, 'base64');
    const hex = b.subarray(0, 24).toString('hex');
    return `0x${hex}${b.length > 24 ? '…' : ''}`;
  }
  return oneLine(v, max);
}

export type Align = 'left' | 'right';

/**
 * An aligned table: a header row, then the rows; columns separated by two spaces; trailing blanks trimmed. Cells
 * must already be single lines.
 */
export function table(headers: string[], rows: string[][], align: Align[] = []): string {
  const widths = headers.map((h, i) => Math.max(width(h), ...rows.map((r) => width(r[i] ?? ''))));
  const line = (cells: string[]) => cells
    .map((c, i) => {
      const pad = ' '.repeat(Math.max(0, widths[i]! - width(c)));
      return align[i] === 'right' ? pad + c : c + pad;
    })
    .join('  ')
    .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

/** Display width: counts code points, so accented text and the ellipsis line up. */
function width(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

/** `key: value` lines with the keys aligned. */
export function fields(pairs: [string, string][]): string {
  const w = Math.max(...pairs.map(([k]) => k.length));
  return pairs.map(([k, v]) => `${`${k}:`.padEnd(w + 1)} ${v}`).join('\n');
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}
