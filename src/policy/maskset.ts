import type { DetectorName, MaskStyle, PolicyConfig } from '../config/types.ts';
import type { ColumnRef } from '../sql/types.ts';
import {
  columnCandidates, columnMatches, compileColumnPattern, partMatches,
  type ColumnPattern, type ResolvedColumn, type ResolvedTable,
} from './patterns.ts';

/**
 * A policy's masking rules, compiled once: which base columns are masked and in which style, and which content
 * detectors run in which style. Shared by the masker and by the masked-column-use rule, so both agree on what
 * "a masked column" is.
 */

/** Higher is stricter: `null` reveals nothing, `redact` reveals only that a value exists, `hash` reveals equality. */
const RANK: Record<MaskStyle, number> = { partial: 1, hash: 2, redact: 3, null: 4 };

export function stricter(a: MaskStyle | null, b: MaskStyle | null): MaskStyle | null {
  if (a === null) return b;
  if (b === null) return a;
  return RANK[b] > RANK[a] ? b : a;
}

interface ColumnRule {
  pattern: ColumnPattern;
  style: MaskStyle;
}

export class MaskSet {
  readonly columnRules: readonly ColumnRule[];
  /** Each detector with the style of the first rule that lists it. */
  readonly detectors: ReadonlyMap<DetectorName, MaskStyle>;
  /** Some detector also looks at integer cells (credit_card, ssn, phone). */
  readonly numericDetectors: boolean;

  constructor(policy: PolicyConfig) {
    const rules: ColumnRule[] = [];
    const detectors = new Map<DetectorName, MaskStyle>();
    for (const m of policy.masking) {
      for (const c of m.columns ?? []) rules.push({ pattern: compileColumnPattern(c), style: m.style });
      for (const d of m.detect ?? []) if (!detectors.has(d)) detectors.set(d, m.style);
    }
    this.columnRules = rules;
    this.detectors = detectors;
    this.numericDetectors = detectors.has('credit_card') || detectors.has('ssn') || detectors.has('phone');
  }

  get hasColumnRules(): boolean {
    return this.columnRules.length > 0;
  }

  /**
   * The style of a base column: the first column rule that matches it (so a specific rule written first can set
   * a different style than a general one after it), or null when it is not masked. Unknown parts match.
   */
  styleOf(c: ResolvedColumn): MaskStyle | null {
    for (const r of this.columnRules) if (columnMatches(r.pattern, c)) return r.style;
    return null;
  }

  /** The first pattern that matches, for reasons. */
  patternOf(c: ResolvedColumn): string | null {
    for (const r of this.columnRules) if (columnMatches(r.pattern, c)) return r.pattern.text;
    return null;
  }

  /**
   * The strictest style a column reference may need: a reference may denote several base columns (unqualified
   * with several tables in scope); when any candidate is masked, so is the reference.
   */
  styleOfRef(ref: ColumnRef, tables: readonly ResolvedTable[], currentDb: string | null): { style: MaskStyle | null; column: ResolvedColumn | null } {
    let style: MaskStyle | null = null;
    let column: ResolvedColumn | null = null;
    for (const c of columnCandidates(ref, tables, currentDb)) {
      const s = this.styleOf(c);
      if (s !== null && (style === null || stricter(style, s) !== style)) {
        style = s;
        column = c;
      }
    }
    return { style, column };
  }

  /**
   * The strictest style among the column rules that could apply to some column of this table (null: the table
   * cannot hold a masked column). `*.*.ssn` applies to every table: any of them may have an `ssn` column.
   */
  tableStyle(t: ResolvedTable): MaskStyle | null {
    let style: MaskStyle | null = null;
    for (const r of this.columnRules) {
      if (partMatches(r.pattern.db, t.db) && partMatches(r.pattern.table, t.table)) style = stricter(style, r.style);
    }
    return style;
  }

  /** The strictest style of all column rules: what an unexplained column gets when the tables are not known. */
  strictestColumnStyle(): MaskStyle | null {
    let style: MaskStyle | null = null;
    for (const r of this.columnRules) style = stricter(style, r.style);
    return style;
  }
}
