import type { Identity } from '../identity/types.ts';
import type { MaskStyle, PolicyConfig } from '../config/types.ts';
import type { Classification } from '../sql/types.ts';
import type { ColumnDefinition } from '../protocol/columns.ts';

/**
 * The seam between the gateway and the pure policy code: which policy applies, what to do with a statement, and how
 * to mask a result set. Nothing here does I/O; EXPLAIN estimates are fetched by the gateway and passed in.
 */

export interface PolicyContext {
  identity: Identity;
  target: string;
  /** The session's current schema: resolves unqualified table names. */
  db: string | null;
}

export interface StatementDecision {
  action: 'allow' | 'deny' | 'approve';
  policy: string;
  /** Deciding rule (`name`, `#N`, or `recommended/<name>` for the ready pack); null for the default allow. */
  rule: string | null;
  /** One sentence a human can act on, e.g. `UPDATE without WHERE touches every row of app.users`. */
  reason: string;
  /** For `approve`: distinct approvers needed, and hold or retry mode. */
  minApprovals: number;
  mode: 'hold' | 'retry';
  /**
   * A rule with `minRows` could decide this statement but needs the row estimate: the gateway runs EXPLAIN on the
   * upstream and calls `decide` again with `estimatedRows`. Only set when `estimatedRows` was not given.
   */
  needsEstimate?: boolean;
  /**
   * With `needsEstimate`: the statement texts to run `EXPLAIN` on (for `PREPARE … FROM '…'` the prepared text).
   * Pass the largest estimate back; pass `Infinity` when none can be obtained (the rule then fails closed).
   */
  estimateStatements?: string[];
  /** LOAD DATA LOCAL INFILE is explicitly allowed by a rule (otherwise the gateway refuses the file transfer). */
  allowLocalInfile?: boolean;
}

export interface ExplainedDecision extends StatementDecision {
  /** Every rule considered, in order, and why it matched or not: for `agentgate policy explain`. */
  trace: { rule: string; matched: boolean; why: string }[];
}

/** How one result set is masked. Built once per result set from its column definitions; applied to every row. */
export interface ResultMasker {
  /** The masking style of each column (null: untouched), for the audit record. */
  readonly styles: readonly (MaskStyle | null)[];
  /**
   * Replacement payloads for the column definitions (masked columns become strings, NOT NULL dropped), or null per
   * column left as it was. The gateway forwards the original bytes of the others.
   */
  readonly columnDefs: readonly (Buffer | null)[];
  /** True when content detectors must look at every cell, so every row has to be examined. */
  readonly examinesEveryRow: boolean;
  /** Columns whose cells the content detectors examine (the audit may flag them as possibly masked). */
  readonly detectorColumns?: readonly boolean[];
  /** Masks one row payload; returns the new payload, or null when the row is unchanged. */
  maskRow(payload: Buffer): Buffer | null;
  /**
   * For the relay: null when the payload itself is the row to send (unchanged, or masked in its own bytes where no
   * cell changes length); otherwise the new row as a packet with 4 bytes of header room. May write into `payload`.
   */
  maskRowFramed?(payload: Buffer): Buffer | null;
}

export interface PolicyEngine {
  /** The first policy whose groups and targets match; null: the login is refused. */
  selectPolicy(identity: Identity, target: string): PolicyConfig | null;
  /** The decision for a statement (every statement of a multi-statement is considered). */
  decide(policy: PolicyConfig, cls: Classification, ctx: PolicyContext, estimatedRows?: number): StatementDecision;
  /** Same, with the trace of every rule, for `policy explain`. */
  explain(policy: PolicyConfig, cls: Classification, ctx: PolicyContext, estimatedRows?: number): ExplainedDecision;
  /**
   * The masker for a result set, or null when nothing in it can need masking (the fast path: rows are forwarded
   * untouched). `cls` is the statement that produced it (null when unknown, e.g. a stored procedure's result);
   * `resultIndex` which statement of a multi-statement text; `binary` whether rows use the binary protocol.
   */
  /**
   * For a statement that touched masked data: rewrites a server message about it (its error, the warnings SHOW
   * WARNINGS lists after it) so values it echoes are masked. Null when no message about it needs that.
   */
  messageScrubber(policy: PolicyConfig, cls: Classification | null, ctx: PolicyContext): ((message: string) => string | null) | null;
  masker(
    policy: PolicyConfig,
    columns: readonly ColumnDefinition[],
    cls: Classification | null,
    resultIndex: number,
    ctx: PolicyContext,
    binary: boolean,
  ): ResultMasker | null;
}
