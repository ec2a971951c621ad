import { randomBytes } from 'node:crypto';
import type { Command } from 'commander';
import type { Identity } from '../identity/types.ts';
import type { ExplainedDecision } from '../policy/types.ts';
import type { Classification, TableRef } from '../sql/types.ts';
import { flavorOf, flavorOption, intIn, jsonOption } from './common.ts';
import { loadConfigWithoutSecrets } from './config.ts';
import { usage } from './errors.ts';
import { fields, oneLine, out, printJson, table } from './output.ts';

interface ExplainOptions {
  config: string;
  groups: string;
  target: string;
  sql: string;
  db?: string;
  subject: string;
  estimatedRows?: number;
  serverVersion: string;
  json?: boolean;
}

/** `db.table`, unqualified names resolved with --db as the gateway resolves them with the session's schema. */
const tableName = (t: TableRef, db: string | null) => (t.db ?? db ? `${t.db ?? db}.${t.table}` : t.table);

function classificationJson(cls: Classification, db: string | null) {
  return {
    kinds: cls.kinds,
    fingerprint: cls.fingerprint,
    parsed: cls.parsed,
    statements: cls.statements.map((s) => ({
      kinds: s.kinds, text: s.text, tablesRead: s.tablesRead.map((t) => tableName(t, db)), tablesWritten: s.tablesWritten.map((t) => tableName(t, db)),
      unboundedWrite: s.unboundedWrite, parsed: s.parsed,
    })),
  };
}

async function readSql(sql: string): Promise<string> {
  if (sql !== '-') return sql;
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export function registerPolicy(program: Command): void {
  const policy = program.command('policy').description('the guardrails: what the gateway would decide, and why');

  flavorOption(jsonOption(policy
    .command('explain')
    .description('the decision the gateway would take on a statement, the deciding rule, and every rule\'s verdict (local: no gateway needed)')
    .requiredOption('--config <file>', 'the configuration whose policies apply')
    .requiredOption('--groups <g1,g2>', 'the groups of the identity running the statement')
    .requiredOption('--target <name>', 'the target it runs on')
    .requiredOption('--sql <statement>', 'the SQL text (several statements allowed; - reads it from stdin)')
    .option('--db <schema>', 'the current schema, for unqualified table names')
    .option('--subject <name>', 'the identity\'s subject', 'policy-explain')
    .option('--estimated-rows <n>', 'the row estimate a minRows rule would get from EXPLAIN', intIn(0, Number.MAX_SAFE_INTEGER))))
    .addHelpText('after', `
The policy is the first one of the configuration whose groups and targets match, as at login. The SQL is read as
the server given by --server-version reads it (executable comments included). No connection is made, and the
secrets the file takes from the environment need not be set.`)
    .action(async (o: ExplainOptions) => {
      const config = loadConfigWithoutSecrets(o.config);
      const target = config.targets.find((t) => t.name === o.target);
      if (!target) throw usage(`--target: ${o.config} has no target "${o.target}" (targets: ${config.targets.map((t) => t.name).join(', ')})`);
      const groups = o.groups.split(',').map((g) => g.trim()).filter(Boolean);
      if (!groups.length) throw usage('--groups: give at least one group, e.g. --groups agents,ci');
      const flavor = { ...flavorOf(o.serverVersion), noBackslashEscapes: false };
      const sql = await readSql(o.sql);
      if (!sql.trim()) throw usage('--sql is empty');
      const identity: Identity = { subject: o.subject, groups, via: 'service_account' };
      // Explaining never masks: a throwaway key avoids reading or creating the deployment's.
      const { createPolicyEngine } = await import('../policy/index.ts');
      const { classify } = await import('../sql/index.ts');
      const engine = createPolicyEngine({ policies: config.policies, hashKey: randomBytes(32), defaultMinApprovals: config.approvals.minApprovals });
      const cls = classify(sql, flavor);
      const p = engine.selectPolicy(identity, target.name);
      const base = { target: target.name, groups, db: o.db ?? null, serverVersion: o.serverVersion, sql, classification: classificationJson(cls, o.db ?? null) };
      if (!p) {
        const reason = `no policy matches groups [${groups.join(', ')}] on target "${target.name}": the login is refused`;
        if (o.json) return printJson({ ...base, policy: null, decision: { action: 'deny', policy: null, rule: null, reason }, trace: [] });
        out(fields([['decision', 'deny (login refused)'], ['reason', reason]]));
        return;
      }
      const d: ExplainedDecision = engine.explain(p, cls, { identity, target: target.name, db: o.db ?? null }, o.estimatedRows);
      const { trace, ...decision } = d;
      if (o.json) return printJson({ ...base, policy: p.name, decision, trace });
      const st = cls.statements;
      const written = [...new Set(st.flatMap((s) => s.tablesWritten.map((t) => tableName(t, o.db ?? null))))];
      const read = [...new Set(st.flatMap((s) => s.tablesRead.map((t) => tableName(t, o.db ?? null))))];
      const pairs: [string, string][] = [
        ['decision', d.action + (d.action === 'approve' ? ` (${d.minApprovals} approver${d.minApprovals > 1 ? 's' : ''}, ${d.mode} mode)` : '')],
        ['policy', `${p.name} (the first policy for groups ${groups.join(', ')} on target ${target.name})`],
        ['rule', d.rule ?? 'none matched: the default allow'],
        ['reason', d.reason],
        ['kinds', cls.kinds.join(', ') || '-'],
      ];
      if (read.length) pairs.push(['tables read', read.join(', ')]);
      if (written.length) pairs.push(['tables written', written.join(', ')]);
      if (st.some((s) => s.unboundedWrite)) pairs.push(['unbounded write', 'yes: it can touch every row of a table']);
      if (!cls.parsed) pairs.push(['parsed', 'no: only the lexer classified it; rules that must be sure fail closed']);
      pairs.push(['fingerprint', oneLine(cls.fingerprint, 160)]);
      out(fields(pairs));
      if (d.needsEstimate) out('\nthe decision depends on the row estimate of a minRows rule: pass --estimated-rows N to see it');
      out('\ntrace (every rule considered, in order):');
      out(trace.length
        ? table(['RULE', 'MATCHED', 'WHY'], trace.map((t) => [t.rule, t.matched ? 'yes' : 'no', oneLine(t.why, 140)]))
        : '(no rules)');
    });
}
