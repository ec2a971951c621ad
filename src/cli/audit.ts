import type { Command } from 'commander';
import type { PruneResult, SearchHit, VerifyResult } from '../audit/types.ts';
import { redactUrl } from '../config/index.ts';
import { ApiClient, type ApiOptions } from './api-client.ts';
import { apiOptions, intIn, jsonOption } from './common.ts';
import { loadCliConfig } from './config.ts';
import { Fails, failed, usage } from './errors.ts';
import { out, plural, printJson, table, time } from './output.ts';

function durationText(msValue: number): string {
  const d = Math.floor(msValue / 86_400_000);
  const h = Math.floor((msValue % 86_400_000) / 3_600_000);
  const m = Math.floor((msValue % 3_600_000) / 60_000);
  const parts = [d ? `${d}d` : '', h ? `${h}h` : '', m ? `${m}m` : ''].filter(Boolean);
  return parts.join('') || `${Math.round(msValue / 1000)}s`;
}

export function registerAudit(program: Command): void {
  const audit = program.command('audit').description('the audit store: integrity check, who saw what, retention');

  jsonOption(apiOptions(audit
    .command('verify')
    .description('check the hash chain and signed checkpoints of every recorded event; exit 1 when something was altered')))
    .action(async (o: ApiOptions & { json?: boolean }) => {
      const r = await ApiClient.from(o).get<VerifyResult>('/api/audit/verify');
      if (o.json) printJson(r);
      else if (r.ok) {
        const extra = [
          r.records !== undefined ? plural(r.records, 'chain record') : '',
          r.checkpoints !== undefined ? plural(r.checkpoints, 'signed checkpoint') : '',
          r.streams !== undefined ? plural(r.streams, 'writer stream') : '',
          r.stubs ? `${r.stubs} pruned` : '',
        ].filter(Boolean).join(', ');
        out(`ok: ${plural(r.events, 'event')} verified${extra ? ` (${extra})` : ''}`);
        if (r.unanchored) out(`note: the newest ${plural(r.unanchored, 'record')} come after the last signed checkpoint; removing them would go unnoticed until the next one`);
      } else {
        const where = r.firstBad ? `session ${r.firstBad.sessionId}, event #${r.firstBad.seq}` : 'the store';
        out(`TAMPERED: the record of ${where} does not verify${r.problem ? `: ${r.problem}` : ''}`);
        out(`(${plural(r.events, 'event')} checked)`);
      }
      if (!r.ok) throw new Fails();
    });

  jsonOption(apiOptions(audit
    .command('search')
    .description('who saw what: the recorded results that returned a value (--value) or a column (--column)')
    .option('--value <value>', 'a cell value, as the client received it (exact match unless --substring)')
    .option('--column <db.table.col>', 'a column, `*` allowed per part; computed columns derived from it count too')
    .option('--substring', 'with --value: cells that contain the value')
    .option('--limit <n>', 'at most this many hits (1-1000)', intIn(1, 1000), 100)))
    .action(async (o: ApiOptions & { value?: string; column?: string; substring?: boolean; limit: number; json?: boolean }) => {
      if ((o.value === undefined) === (o.column === undefined)) throw usage('give exactly one of --value V or --column DB.TABLE.COL');
      if (o.substring && o.value === undefined) throw usage('--substring applies to --value');
      if (o.column !== undefined && o.column.split('.').length !== 3) throw usage(`--column: "${o.column}" is not DB.TABLE.COL`);
      const r = await ApiClient.from(o).get<{ hits: SearchHit[] }>('/api/audit/search', {
        value: o.value, column: o.column, substring: o.substring ? true : undefined, limit: o.limit,
      });
      if (o.json) return printJson(r);
      if (!r.hits.length) return out('no recorded result matches');
      out(table(['SESSION', 'EVENT', 'COLUMN'], r.hits.map((h) => [h.sessionId, `#${h.seq}`, h.column]), ['left', 'right']));
      out(`(${plural(r.hits.length, 'hit')}; "agentgate sessions show SESSION" for who and when)`);
    });

  jsonOption(audit
    .command('prune')
    .description('remove sessions older than their policy\'s retention (opens the store from --config; the gateway need not run)')
    .requiredOption('--config <file>', 'the gateway configuration: its audit.store and each policy\'s retention'))
    .addHelpText('after', `
This command opens the audit store named by the configuration directly; it does not use the HTTP API and works
whether or not the gateway is running. Pruned sessions leave verifiable stubs and a signed prune record, so
"audit verify" still passes afterwards.`)
    .action(async (o: { config: string; json?: boolean }) => {
      const config = loadCliConfig(o.config);
      const withRetention = config.policies.filter((p) => p.retention !== undefined);
      const now = new Date();
      const results: { policy: string; retention: string; retentionMs: number; cutoff: string; removed: PruneResult }[] = [];
      if (withRetention.length) {
        const { openAuditStore } = await import('../audit/index.ts');
        const { loadInstanceId, loadSigningKey } = await import('../gateway/keys.ts');
        const store = openAuditStore(config.audit.store, {
          instanceId: loadInstanceId(config),
          signingKeyPem: loadSigningKey(config),
          fsync: config.audit.fsync,
          checkpointEvery: config.audit.checkpointEvery,
          checkpointInterval: config.audit.checkpointInterval,
        });
        try {
          await store.init();
        } catch (e) {
          throw failed(`cannot open the audit store ${redactUrl(config.audit.store)}: ${(e as Error).message}`);
        }
        try {
          // One policy at a time, so the report says what each retention removed.
          for (const p of withRetention) {
            const removed = await store.prune({ now, retention: new Map([[p.name, p.retention!]]) });
            results.push({ policy: p.name, retention: durationText(p.retention!), retentionMs: p.retention!, cutoff: new Date(now.getTime() - p.retention!).toISOString(), removed });
          }
        } finally {
          await store.close();
        }
      }
      const total = results.reduce((t, r) => ({ sessions: t.sessions + r.removed.sessions, records: t.records + r.removed.records, pruneRecords: t.pruneRecords + r.removed.pruneRecords }), { sessions: 0, records: 0, pruneRecords: 0 });
      if (o.json) return printJson({ store: redactUrl(config.audit.store), at: now.toISOString(), policies: results, total, keptPolicies: config.policies.filter((p) => p.retention === undefined).map((p) => p.name) });
      if (!withRetention.length) return out('no policy sets a retention: nothing to prune (sessions are kept)');
      out(table(
        ['POLICY', 'RETENTION', 'ENDED BEFORE (UTC)', 'SESSIONS REMOVED', 'RECORDS STUBBED'],
        results.map((r) => [r.policy, r.retention, time(r.cutoff), String(r.removed.sessions), String(r.removed.records)]),
        ['left', 'left', 'left', 'right', 'right'],
      ));
      out(`removed ${plural(total.sessions, 'session')} (${plural(total.records, 'record')} reduced to chain stubs, ${plural(total.pruneRecords, 'signed prune record')})`);
      const kept = config.policies.filter((p) => p.retention === undefined).map((p) => p.name);
      if (kept.length) out(`kept without limit (no retention): ${kept.join(', ')}`);
    });
}
