import type { PresentedResult } from '../audit/present.ts';
import type { CellValue } from '../protocol/rows.ts';

/**
 * Whether a result obtained today equals the recorded one, both as the client received them (masked). Pure.
 *
 * Only the rows the recording kept can be compared: when the gateway captured the first N rows of a longer result,
 * the first N rows of today's result are compared with them (and the full counts separately).
 */

export interface ResultDiff {
  same: boolean;
  /** One phrase per difference, e.g. `rows: recorded 2, now 3`. */
  reasons: string[];
  /** Rows today has and the recording has not, and the other way round (multiset difference). */
  added: CellValue[][];
  removed: CellValue[][];
}

const key = (row: CellValue[]) => JSON.stringify(row);

function describeError(e: PresentedResult['error']): string {
  return e ? `error ${e.code}: ${e.message}` : 'no error';
}

function columnsOf(r: PresentedResult): string[] {
  return (r.columns ?? []).map((c) => (c.masked ? `${c.name} [${c.masked}]` : c.name));
}

export function compareResult(recorded: PresentedResult, now: PresentedResult): ResultDiff {
  const d: ResultDiff = { same: true, reasons: [], added: [], removed: [] };
  const differ = (why: string) => {
    d.same = false;
    d.reasons.push(why);
  };
  if (recorded.error || now.error) {
    // Messages name connection ids and the like: the error code is what has to match.
    if (recorded.error?.code !== now.error?.code) differ(`recorded ${describeError(recorded.error)}; now ${describeError(now.error)}`);
    return d;
  }
  const rc = columnsOf(recorded);
  const nc = columnsOf(now);
  if (rc.join('\u0000') !== nc.join('\u0000')) differ(`columns: recorded (${rc.join(', ')}), now (${nc.join(', ')})`);
  if (recorded.affectedRows !== undefined && now.affectedRows !== undefined && recorded.affectedRows !== now.affectedRows) {
    differ(`affected rows: recorded ${recorded.affectedRows}, now ${now.affectedRows}`);
  }
  if (recorded.rowCount !== undefined && now.rowCount !== undefined && recorded.rowCount !== now.rowCount) {
    differ(`rows: recorded ${recorded.rowCount}, now ${now.rowCount}`);
  }
  const kept = recorded.rows ?? [];
  const partial = recorded.rowCount !== undefined && recorded.rowCount > kept.length;
  const fresh = partial ? (now.rows ?? []).slice(0, kept.length) : (now.rows ?? []);
  const counts = new Map<string, number>();
  for (const r of kept) counts.set(key(r), (counts.get(key(r)) ?? 0) + 1);
  for (const r of fresh) {
    const k = key(r);
    const n = counts.get(k) ?? 0;
    if (n > 0) counts.set(k, n - 1);
    else d.added.push(r);
  }
  const pending = new Map(counts);
  for (const r of kept) {
    const k = key(r);
    const n = pending.get(k) ?? 0;
    if (n > 0) {
      d.removed.push(r);
      pending.set(k, n - 1);
    }
  }
  if (d.added.length || d.removed.length) {
    differ(`row values: ${d.removed.length} recorded row(s) not returned now, ${d.added.length} new row(s)${partial ? ` (among the first ${kept.length}, which the recording kept)` : ''}`);
  } else if (kept.length && kept.map(key).join('\n') !== fresh.map(key).join('\n')) {
    differ('the same rows in a different order');
  }
  return d;
}

/** A whole statement's results (a multi-statement text has one per statement). */
export function compareResults(recorded: PresentedResult[], now: PresentedResult[]): ResultDiff {
  if (recorded.length !== now.length) {
    return { same: false, reasons: [`results: recorded ${recorded.length}, now ${now.length}`], added: [], removed: [] };
  }
  const all: ResultDiff = { same: true, reasons: [], added: [], removed: [] };
  recorded.forEach((r, i) => {
    const d = compareResult(r, now[i]!);
    if (d.same) return;
    all.same = false;
    all.reasons.push(...d.reasons.map((x) => (recorded.length > 1 ? `result ${i + 1}: ${x}` : x)));
    all.added.push(...d.added);
    all.removed.push(...d.removed);
  });
  return all;
}
