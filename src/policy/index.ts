import type { PolicyConfig } from '../config/types.ts';
import type { Identity } from '../identity/types.ts';
import type { ColumnDefinition } from '../protocol/columns.ts';
import { shapeRepresentative } from '../sql/cache.ts';
import type { Classification } from '../sql/types.ts';
import { compilePolicy, evaluate, type CompiledPolicy } from './decide.ts';
import { columnStyles } from './lineage.ts';
import { DefinitionCache, RowMasker, anyWork } from './masker.ts';
import { messageScrubber } from './messages.ts';
import { HashKey } from './styles.ts';
import type { ExplainedDecision, PolicyContext, PolicyEngine, ResultMasker, StatementDecision } from './types.ts';

export type { ExplainedDecision, PolicyContext, PolicyEngine, ResultMasker, StatementDecision } from './types.ts';
export { RECOMMENDED_RULES, RECOMMENDED_TABLE, recommendedMarkdown } from './recommended.ts';
export { MASKED_COLUMN_RULE } from './decide.ts';

export interface PolicyEngineOptions {
  policies: PolicyConfig[];
  /** Key of the `hash` masking style: equal values hash alike within one deployment, and only there. */
  hashKey: Buffer;
  /** Approvers needed when a decision to approve comes from no rule setting `minApprovals`. Default 1. */
  defaultMinApprovals?: number;
}

/** The first policy whose groups intersect the identity's and whose targets include this target (or `*`). */
export function selectPolicy(policies: readonly PolicyConfig[], identity: Identity, target: string): PolicyConfig | null {
  for (const p of policies) {
    if (!p.groups.some((g) => identity.groups.includes(g))) continue;
    if (p.targets.includes('*') || p.targets.includes(target)) return p;
  }
  return null;
}

export function createPolicyEngine(config: PolicyEngineOptions): PolicyEngine {
  const hashKey = new HashKey(config.hashKey);
  const definitions = new DefinitionCache();
  const defaultMinApprovals = config.defaultMinApprovals ?? 1;
  // Policies are compiled on first use and kept for as long as the configuration object lives (a reload brings
  // new objects, and the old compilations go with the old ones).
  const compiled = new WeakMap<PolicyConfig, CompiledPolicy>();
  const get = (p: PolicyConfig): CompiledPolicy => {
    let c = compiled.get(p);
    if (c === undefined) {
      c = compilePolicy(p);
      compiled.set(p, c);
    }
    return c;
  };

  // The last decision made for each shape of text (keyed by the classification the shape came from, which the
  // classifier cache keeps alive), with the policy and current schema it was made under.
  const byShape = new WeakMap<Classification, { policy: PolicyConfig; db: string | null; decision: StatementDecision }>();

  const explain = (policy: PolicyConfig, cls: Classification, ctx: PolicyContext, estimatedRows?: number): ExplainedDecision =>
    evaluate(get(policy), cls, ctx, estimatedRows, defaultMinApprovals, true);

  return {
    selectPolicy(identity: Identity, target: string): PolicyConfig | null {
      return selectPolicy(config.policies, identity, target);
    },

    decide(policy: PolicyConfig, cls: Classification, ctx: PolicyContext, estimatedRows?: number): StatementDecision {
      if (estimatedRows !== undefined) return evaluate(get(policy), cls, ctx, estimatedRows, defaultMinApprovals, false);
      // Texts of one shape (the classifier cache gave them the same classification but for their texts) get one
      // decision: nothing a rule reads differs between them (kinds, tables, columns, unbounded writes, the words
      // of the text, which are keywords and names, never the literals that set them apart; see decide.test.ts).
      // Decisions that wait for a row estimate name their statement texts, so they are made for every text.
      const shape = shapeRepresentative(cls);
      const hit = byShape.get(shape);
      if (hit !== undefined && hit.policy === policy && hit.db === ctx.db) return hit.decision;
      const decision = evaluate(get(policy), cls, ctx, estimatedRows, defaultMinApprovals, false);
      if (!decision.needsEstimate) byShape.set(shape, { policy, db: ctx.db, decision: Object.freeze(decision) });
      return decision;
    },

    explain,

    messageScrubber(policy: PolicyConfig, cls: Classification | null, ctx: PolicyContext) {
      return messageScrubber(get(policy).masks, cls, ctx.db);
    },

    masker(
      policy: PolicyConfig, columns: readonly ColumnDefinition[], cls: Classification | null, resultIndex: number,
      ctx: PolicyContext, binary: boolean,
    ): ResultMasker | null {
      const cp = get(policy);
      if (!cp.masks.hasColumnRules && cp.masks.detectors.size === 0) return null;
      const styles = columnStyles(cp.masks, columns, cls, resultIndex, ctx.db);
      if (!anyWork(columns, styles, cp.masks)) return null;
      return new RowMasker({ masks: cp.masks, hashKey, definitions, columns, styles, binary });
    },
  };
}
