import type { ResultMasker } from '../policy/types.ts';
import type { ColumnDefinition } from '../protocol/columns.ts';
import { rebuildBinaryRow, rebuildTextRow, scanBinaryRow, scanTextRow, type Replacement } from '../protocol/rows.ts';

/** `SHOW WARNINGS`, `SHOW ERRORS` and `SHOW COUNT(*) …`: they list (or count) the previous statement's messages. */
export function isShowWarnings(sql: string): boolean {
  return /^\s*show\s+(?:warnings|errors)\b/i.test(sql);
}

/** `GET [CURRENT|STACKED] DIAGNOSTICS`: copies message texts into variables, past any masking. */
export function isGetDiagnostics(sql: string): boolean {
  return /^\s*get\s+(?:current\s+|stacked\s+)?diagnostics\b/i.test(sql);
}

/**
 * Masks the Message column of a SHOW WARNINGS / SHOW ERRORS result with the previous statement's message scrubber
 * (values it echoed from masked columns), in text or binary rows.
 */
export function warningsMasker(columns: readonly ColumnDefinition[], scrub: (m: string) => string | null, binary: boolean): ResultMasker | null {
  const idx = columns.findIndex((c) => c.name.toLowerCase() === 'message');
  if (idx < 0) return null;
  const n = columns.length;
  const spans = new Int32Array(n * 2);
  return {
    styles: columns.map((_c, i) => (i === idx ? 'redact' : null)),
    columnDefs: columns.map(() => null),
    examinesEveryRow: true,
    maskRow(p: Buffer): Buffer | null {
      if (binary) scanBinaryRow(p, columns, spans);
      else scanTextRow(p, n, spans);
      const s = spans[2 * idx]!;
      if (s < 0) return null;
      const scrubbed = scrub(p.toString('utf8', s, spans[2 * idx + 1]!));
      if (scrubbed === null) return null;
      const repl: (Replacement | undefined)[] = new Array(n);
      repl[idx] = Buffer.from(scrubbed, 'utf8');
      return binary ? rebuildBinaryRow(p, columns, spans, repl) : rebuildTextRow(p, spans, repl);
    },
  };
}
