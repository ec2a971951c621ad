import type { Classification } from '../sql/types.ts';
import { Detectors } from './detectors.ts';
import type { MaskSet } from './maskset.ts';
import { statementTables, tableMatches } from './patterns.ts';

/**
 * Server messages echo values: "Truncated incorrect DOUBLE value: '123-45-6789'" (a warning of `ssn + 0`),
 * "Duplicate entry 'ann@example.com' for key …". A statement that touched a table with masked columns must not
 * leak them that way, so its error message (and the warnings SHOW WARNINGS lists after it) has every quoted value
 * replaced with '****'; content detectors, when the policy has them, run over the text too.
 */

/** Whether some statement reads or writes a table one of the policy's column rules can mask (unknown: yes). */
export function touchesMaskedTables(masks: MaskSet, cls: Classification | null, db: string | null): boolean {
  if (!masks.hasColumnRules) return false;
  if (!cls || !cls.parsed) return true;
  for (const s of cls.statements) {
    for (const t of statementTables(s, db)) {
      if (masks.columnRules.some((r) => tableMatches(r.pattern, t))) return true;
    }
    if ((s.body?.length ?? 0) > 0 || (s.prepared?.length ?? 0) > 0) return true;
  }
  return false;
}

/** Replaces the contents of every single-quoted value in a message ('' inside a value is an escaped quote). */
export function redactQuoted(message: string): string {
  let out = '';
  let i = 0;
  for (;;) {
    const open = message.indexOf("'", i);
    if (open < 0) return out + message.slice(i);
    let close = open + 1;
    for (;;) {
      close = message.indexOf("'", close);
      if (close < 0 || message[close + 1] !== "'") break;
      close += 2;
    }
    if (close < 0) return `${out}${message.slice(i, open)}'****`;
    out += `${message.slice(i, open)}'****'`;
    i = close + 1;
  }
}

/**
 * A scrubber for the messages about one statement, or null when none is needed. `redact`: quoted values go;
 * `detectors`: the policy's content detectors run over what is left.
 */
export function messageScrubber(masks: MaskSet, cls: Classification | null, db: string | null): ((message: string) => string | null) | null {
  const redact = touchesMaskedTables(masks, cls, db);
  const detectors = masks.detectors.size > 0 ? new Detectors(masks.detectors.keys()) : null;
  if (!redact && !detectors) return null;
  return (message) => {
    let m = redact ? redactQuoted(message) : message;
    if (detectors) {
      const b = Buffer.from(m, 'utf8');
      const found: number[] = [];
      detectors.scan(b, 0, b.length, found);
      if (found.length) {
        const parts: Buffer[] = [];
        let pos = 0;
        for (let k = 0; k < found.length; k += 3) {
          const s = found[k]!;
          const e = found[k + 1]!;
          if (s < pos) continue;
          parts.push(b.subarray(pos, s), Buffer.from('****'));
          pos = e;
        }
        parts.push(b.subarray(pos));
        m = Buffer.concat(parts).toString('utf8');
      }
    }
    return m === message ? null : m;
  };
}
