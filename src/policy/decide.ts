import type { PolicyConfig, RuleAction } from '../config/types.ts';
import type { Classification } from '../sql/types.ts';
import { compileRule, evaluateRule, type CompiledRule } from './conditions.ts';
import { MaskSet } from './maskset.ts';
import { checkMaskedColumnUse } from './oracle.ts';
import { RECOMMENDED_RULES } from './recommended.ts';
import { describe, judgedStatements, type Judged } from './statements.ts';
import type { ExplainedDecision, PolicyContext, StatementDecision } from './types.ts';

/**
 * Statement decisions. Each statement of a text (and each statement it prepares or carries in a body) is judged on
 * its own: the masked-column-use rule, then the policy's rules in order (the first match decides), then the ready
 * pack, else allow. The text's decision is the strictest of its statements' (deny > approve > allow): in
 * `SELECT 1; DROP TABLE users` an allow rule for the SELECT must not carry the DROP with it.
 */

/** Name of the masked-column-use rule in decisions and traces. */
export const MASKED_COLUMN_RULE = 'maskedColumnUse';

export interface CompiledPolicy {
  readonly policy: PolicyConfig;
  readonly rules: readonly CompiledRule[];
  readonly masks: MaskSet;
}

export function compilePolicy(policy: PolicyConfig): CompiledPolicy {
  return { policy, rules: policy.rules.map(compileRule), masks: new MaskSet(policy) };
}

type Trace = ExplainedDecision['trace'];

interface StatementVerdict {
  action: RuleAction;
  rule: string | null;
  /** Built only for the verdict that becomes the decision: most are never shown. */
  reason: () => string;
  minApprovals: number;
  /** Set when a minRows rule needs the EXPLAIN estimate before this statement can be decided. */
  needsEstimate: boolean;
  /** LOAD DATA LOCAL INFILE allowed by an explicit rule. */
  localInfileAllowed: boolean;
}

const RANK: Record<RuleAction, number> = { allow: 0, approve: 1, deny: 2 };

const ACTION_VERB: Record<RuleAction, string> = { allow: 'allows', deny: 'denies', approve: 'sends for approval' };

function quoteRule(name: string): string {
  return `"${name}"`;
}

/** Upper-cases the first letter: reasons start a sentence. */
function sentence(s: string): string {
  return s.length === 0 ? s : s[0]!.toUpperCase() + s.slice(1);
}

function judge(
  cp: CompiledPolicy, j: Judged, ctx: PolicyContext, estimatedRows: number | undefined, defaultMinApprovals: number,
  trace: Trace | null, prefix: string,
): StatementVerdict {
  const policy = cp.policy;
  let described: string | undefined;
  const what = (): string => (described ??= describe(j, ctx.db));
  const approvalsOf = (n: number | undefined): number => n ?? defaultMinApprovals;

  // 1. Masked-column use: before any rule, so a later allow cannot undo masking.
  let oracle: StatementVerdict | null = null;
  const finding = checkMaskedColumnUse(j, cp.masks, ctx.db);
  if (cp.masks.hasColumnRules) {
    trace?.push({ rule: MASKED_COLUMN_RULE, matched: finding.result !== false, why: prefix + finding.why });
  }
  if (finding.result !== false) {
    const action = policy.maskedColumnUse;
    const safe = finding.result === 'unknown' ? ' to be safe' : '';
    oracle = {
      action,
      rule: MASKED_COLUMN_RULE,
      reason: () => `${sentence(what())} is ${action === 'deny' ? 'denied' : 'sent for approval'}${safe} because ${finding.why} (maskedColumnUse: ${action}).`,
      minApprovals: defaultMinApprovals,
      needsEstimate: false,
      localInfileAllowed: false,
    };
    // A deny is final; an approval still yields to a later deny (it must not weaken the rules).
    if (action === 'deny') return oracle;
  }

  const ruled = evaluateRules(cp, j, ctx, estimatedRows, trace, prefix, what, approvalsOf);
  if (oracle === null) return ruled;
  if (ruled.needsEstimate || ruled.action === 'deny') return ruled;
  return oracle;
}

function evaluateRules(
  cp: CompiledPolicy, j: Judged, ctx: PolicyContext, estimatedRows: number | undefined, trace: Trace | null,
  prefix: string, what: () => string, approvalsOf: (n: number | undefined) => number,
): StatementVerdict {
  // 2. The policy's own rules: the first match decides.
  for (const r of cp.rules) {
    let o = evaluateRule(r, j, ctx.db, estimatedRows, trace !== null);
    const name = r.rule.name;
    // The deciding rule's words are needed for the reason: evaluate it once more, with them.
    if (o.kind !== 'no' && trace === null) o = evaluateRule(r, j, ctx.db, estimatedRows, true);
    if (o.kind === 'no') {
      trace?.push({ rule: name, matched: false, why: prefix + o.why });
      continue;
    }
    if (o.kind === 'needs-estimate') {
      trace?.push({ rule: name, matched: false, why: `${prefix}undecided: ${o.why}` });
      return {
        // A gateway that ignores needsEstimate must not run the statement: deny until the estimate is given.
        action: 'deny',
        rule: name,
        reason: () => `Rule ${quoteRule(name)} needs the row estimate of ${what()} (EXPLAIN) before it can decide.`,
        minApprovals: approvalsOf(r.rule.minApprovals),
        needsEstimate: true,
        localInfileAllowed: false,
      };
    }
    trace?.push({ rule: name, matched: true, why: prefix + o.why + (o.failClosed ? ' (fail closed)' : '') });
    const action = r.rule.action;
    const why = o.why;
    const reason = o.failClosed
      ? () => `Rule ${quoteRule(name)} ${ACTION_VERB[action]} ${what()} to be safe, because ${why}.`
      : () => `Rule ${quoteRule(name)} ${ACTION_VERB[action]} ${what()} (${why}).`;
    return {
      action,
      rule: name,
      reason,
      minApprovals: approvalsOf(r.rule.minApprovals),
      needsEstimate: false,
      localInfileAllowed: action === 'allow' && j.info.localInfile && (r.rule.kinds?.includes('load_data') ?? false),
    };
  }

  // 3. The ready pack.
  if (cp.policy.guardrails === 'recommended') {
    for (const p of RECOMMENDED_RULES) {
      const f = p.test(j);
      const name = `recommended/${p.name}`;
      trace?.push({ rule: name, matched: f.result !== false, why: prefix + (f.result === false ? `not ${p.covers}` : f.why) });
      if (f.result === false) continue;
      const safe = f.result === 'unknown' ? ' to be safe' : '';
      return {
        action: 'deny',
        rule: name,
        reason: () => `The recommended guardrail ${name} denies ${what()}${safe}: ${f.why}, and ${p.because}; an earlier rule of the policy can allow or approve it.`,
        minApprovals: approvalsOf(undefined),
        needsEstimate: false,
        localInfileAllowed: false,
      };
    }
  }

  // 4. Default allow.
  const none = cp.policy.guardrails === 'recommended' ? 'No rule or recommended guardrail' : 'No rule';
  return {
    action: 'allow',
    rule: null,
    reason: () => `${none} of policy "${cp.policy.name}" matches ${what()}, so it is allowed.`,
    minApprovals: approvalsOf(undefined),
    needsEstimate: false,
    localInfileAllowed: false,
  };
}

/** Every statement to run `EXPLAIN` on for a pending minRows rule. */
function estimateTexts(verdicts: readonly StatementVerdict[], judged: readonly Judged[]): string[] {
  const out: string[] = [];
  verdicts.forEach((v, i) => {
    if (v.needsEstimate && !judged[i]!.unknown) out.push(judged[i]!.info.text);
  });
  return out;
}

/** The decision; with `withTrace` it carries the trace (an ExplainedDecision), without it has none. */
export function evaluate(
  cp: CompiledPolicy, cls: Classification, ctx: PolicyContext, estimatedRows: number | undefined,
  defaultMinApprovals: number, withTrace: true,
): ExplainedDecision;
export function evaluate(
  cp: CompiledPolicy, cls: Classification, ctx: PolicyContext, estimatedRows: number | undefined,
  defaultMinApprovals: number, withTrace: false,
): StatementDecision;
export function evaluate(
  cp: CompiledPolicy, cls: Classification, ctx: PolicyContext, estimatedRows: number | undefined,
  defaultMinApprovals: number, withTrace: boolean,
): StatementDecision {
  const judged = judgedStatements(cls);
  const trace: Trace | null = withTrace ? [] : null;
  const labelled = judged.length > 1;
  const verdicts = judged.map((j) =>
    judge(cp, j, ctx, estimatedRows, defaultMinApprovals, trace, labelled ? `${j.where === '' ? 'the statement' : j.where}: ` : ''));

  const base = trace === null ? { policy: cp.policy.name, mode: cp.policy.approvalMode } : { policy: cp.policy.name, mode: cp.policy.approvalMode, trace };
  if (verdicts.length === 0) {
    return {
      ...base, action: 'allow', rule: null, minApprovals: defaultMinApprovals,
      reason: 'The text holds no statement, so there is nothing to decide.',
    };
  }

  // A final deny needs no estimate; otherwise a pending minRows rule must be settled first.
  const deny = verdicts.find((v) => v.action === 'deny' && !v.needsEstimate);
  let chosen: StatementVerdict;
  if (deny) chosen = deny;
  else if (verdicts.some((v) => v.needsEstimate)) {
    const pending = verdicts.find((v) => v.needsEstimate)!;
    const out: StatementDecision = {
      ...base, action: pending.action, rule: pending.rule, reason: pending.reason(), minApprovals: pending.minApprovals,
      needsEstimate: true,
    };
    const texts = estimateTexts(verdicts, judged);
    if (texts.length > 0) out.estimateStatements = texts;
    return out;
  } else {
    chosen = verdicts[0]!;
    for (const v of verdicts) {
      if (RANK[v.action] > RANK[chosen.action] || (v.action === 'approve' && chosen.action === 'approve' && v.minApprovals > chosen.minApprovals)) {
        chosen = v;
      }
    }
  }

  const out: StatementDecision = {
    ...base, action: chosen.action, rule: chosen.rule, reason: chosen.reason(), minApprovals: chosen.minApprovals,
  };
  const local = verdicts.filter((_, i) => judged[i]!.info.localInfile);
  if (chosen.action === 'allow' && local.length > 0) {
    if (local.every((v) => v.localInfileAllowed)) out.allowLocalInfile = true;
    else {
      out.reason = `${out.reason.replace(/\.$/, '')}, but the client file transfer of LOAD DATA LOCAL INFILE will be refused: no rule with kinds [load_data] and action allow covers it.`;
    }
  }
  return out;
}
