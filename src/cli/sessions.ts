import { readFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import type { PresentedSession } from '../audit/present.ts';
import { STATEMENT_KINDS } from '../sql/types.ts';
import { ApiClient, seg, type ApiOptions } from './api-client.ts';
import { apiOptions, flavorOf, flavorOption, intIn, jsonOption, positive, when } from './common.ts';
import { Fails, usage } from './errors.ts';
import { decisionCell, decisionText, durationText, outcomeText, refused, resultsOf, whatText } from './events.ts';
import type { CompareBy, Ran } from './expect.ts';
import { fields, oneLine, out, plural, printJson, table, time } from './output.ts';
import { replaySession, type ReplayOptions } from './replay.ts';
import type { ExecuteOptions } from './replay-execute.ts';

interface ListOptions extends ApiOptions {
  target?: string;
  subject?: string;
  since?: string;
  until?: string;
  limit?: number;
  before?: string;
  denied?: boolean;
  approvals?: boolean;
  kind?: string;
  json?: boolean;
}

export async function fetchSession(o: ApiOptions, id: string): Promise<PresentedSession & { events: NonNullable<PresentedSession['events']> }> {
  const s = await ApiClient.from(o).get<PresentedSession>(`/api/sessions/${seg(id)}`);
  return { ...s, events: s.events ?? [] };
}

function identityText(s: PresentedSession): string {
  return `${s.identity.subject} (${s.identity.via}; groups: ${s.identity.groups.join(', ') || 'none'})`;
}

export function registerSessions(program: Command): void {
  const sessions = program.command('sessions').description('the recorded sessions: list, show, replay, export, verify');

  jsonOption(apiOptions(sessions
    .command('list')
    .description('list recorded sessions, newest first')
    .option('--target <name>', 'only sessions on this target')
    .option('--subject <subject>', 'only sessions of this identity')
    .option('--since <time>', 'started at or after: ISO 8601 (UTC unless a zone is given) or a duration back from now (2h, 7d)', when())
    .option('--until <time>', 'started at or before: same forms as --since', when())
    .option('--limit <n>', 'at most this many sessions (1-1000)', intIn(1, 1000), 50)
    .option('--before <id>', 'the page after this session id (the "next" of the previous page)')
    .option('--denied', 'only sessions in which a statement was denied')
    .option('--approvals', 'only sessions in which a statement needed an approval')
    .addOption(new Option('--kind <kind>', 'only sessions that ran a statement of this kind').choices(STATEMENT_KINDS))))
    .action(async (o: ListOptions) => {
      const r = await ApiClient.from(o).get<{ sessions: PresentedSession[]; next: string | null }>('/api/sessions', {
        target: o.target, subject: o.subject, since: o.since, until: o.until, limit: o.limit, before: o.before,
        hasDenied: o.denied ? true : undefined, hasApproval: o.approvals ? true : undefined, kind: o.kind,
      });
      if (o.json) return printJson(r);
      if (!r.sessions.length) return out('no sessions');
      out(table(
        ['ID', 'STARTED (UTC)', 'ENDED (UTC)', 'TARGET', 'SUBJECT', 'VIA', 'CLIENT', 'STMTS', 'DENIED', 'APPROVALS'],
        r.sessions.map((s) => [s.id, time(s.startedAt), s.endedAt ? time(s.endedAt) : 'open', s.target, oneLine(s.identity.subject, 40), s.identity.via, s.client,
          String(s.statements), String(s.denied), String(s.approvals)]),
        ['left', 'left', 'left', 'left', 'left', 'left', 'left', 'right', 'right', 'right'],
      ));
      if (r.next) out(`(more: --before ${r.next})`);
    });

  jsonOption(apiOptions(sessions
    .command('show')
    .description('one session: who, where, and every event with its decision and outcome')
    .argument('<id>', 'session id')))
    .action(async (id: string, o: ApiOptions & { json?: boolean }) => {
      const s = await fetchSession(o, id);
      if (o.json) return printJson(s);
      out(fields([
        ['session', s.id],
        ['target', s.target],
        ['identity', identityText(s)],
        ['client', `${s.client}${s.tls ? ' (TLS)' : ''}`],
        ['policy', s.policy],
        ['started', time(s.startedAt)],
        ['ended', s.endedAt ? `${time(s.endedAt)}${s.endCause ? ` (${s.endCause})` : ''}` : 'still open'],
        ['statements', `${s.statements}, ${s.denied} denied, ${s.approvals} with approvals`],
      ]));
      out();
      out(table(
        ['SEQ', 'AT (UTC)', 'TYPE', 'DECISION', 'TIME', 'OUTCOME', 'STATEMENT'],
        s.events.map((e) => [String(e.seq), time(e.at), e.type, oneLine(decisionCell(e), 40), durationText(e),
          oneLine(resultsOf(e).map(outcomeText).join('; '), 50), whatText(e, 100)]),
        ['right', 'left', 'left', 'left', 'right'],
      ));
    });

  apiOptions(sessions
    .command('export')
    .description('the session as JSON Lines, with its hash chain records, checkpoints and keys (for scripts/verify-export.mjs)')
    .argument('<id>', 'session id'))
    .action(async (id: string, o: ApiOptions) => {
      const body = await ApiClient.from(o).stream(`/api/sessions/${seg(id)}/export`);
      for await (const chunk of body) {
        if (!process.stdout.write(chunk)) await new Promise((r) => process.stdout.once('drain', r));
      }
    });

  apiOptions(sessions
    .command('replay')
    .description('play a session in order with its timing: statements, decisions, durations, results as received')
    .argument('<id>', 'session id')
    .option('--speed <n>', 'play this many times faster (0.5 plays at half speed)', positive, 1)
    .option('--no-wait', 'print everything at once, without the pauses')
    .option('--max-pause <seconds>', 'shorten longer pauses to this (0: none)', intIn(0, 86_400), 10)
    .option('--max-rows <n>', 'result rows shown per statement', intIn(0, 100_000), 20)
    .option('--execute', 're-run the read statements against the target and compare today\'s results with the recorded ones')
    .option('--target <name>', 'with --execute: the target to run them on (default: the session\'s)')
    .option('--allow-writes', 'with --execute: also re-run statements that write (insert, update, DDL, …)')
    .option('--json', 'with --execute: print the comparison as one JSON document'))
    .addHelpText('after', `
With --execute, --config FILE is needed: the statements run on the target's upstream server with the vaulted
credential, and results are masked as the session's policy masked them (same hash key) before they are compared.
Only select/show/describe/explain statements run, inside a read-only transaction, unless --allow-writes.
Statements that were refused at the time are skipped. Prepared statements run with their recorded parameters.
Exit status 1 when a result differs from the recording.`)
    .action(async (id: string, o: ApiOptions & ReplayOptions & ExecuteOptions & { execute?: boolean; json?: boolean }) => {
      if (!o.execute) {
        if (o.json) throw usage('--json applies to --execute; for the recorded session as JSON use "sessions show ID --json"');
        if (o.target || o.allowWrites) throw usage('--target and --allow-writes apply to --execute');
      }
      const s = await fetchSession(o, id);
      if (!o.execute) return replaySession(s, o);
      if (!o.config) throw usage('--execute needs --config FILE: the target\'s upstream credential and the masking key are read from it');
      const { replayExecute, printExecuteReport } = await import('./replay-execute.ts');
      const report = await replayExecute(s, { config: o.config, target: o.target, allowWrites: o.allowWrites ?? false });
      if (o.json) printJson(report);
      else printExecuteReport(report);
      if (report.summary.different > 0 || report.summary.failed > 0) throw new Fails();
    });

  flavorOption(jsonOption(apiOptions(sessions
    .command('verify')
    .description('check that a session ran exactly the statements of a .sql file, in order')
    .argument('<id>', 'session id')
    .requiredOption('--expect <file>', 'the expected statements (a .sql file, split as the server splits)')
    .addOption(new Option('--by <how>', 'compare by normalised text (literals must match) or by fingerprint (literals may differ)').choices(['text', 'fingerprint']).default('text')))))
    .addHelpText('after', `
Statements the gateway refused (policy, approval) did not run and are listed apart. Exit status 1 when the
session ran extra, missing or altered statements.`)
    .action(async (id: string, o: ApiOptions & { expect: string; by: CompareBy; json?: boolean; serverVersion: string }) => {
      const flavor = flavorOf(o.serverVersion);
      const { splitStatements } = await import('../sql/index.ts');
      const { compareStatements, statementsOfFile } = await import('./expect.ts');
      let text: string;
      try {
        text = readFileSync(o.expect, 'utf8');
      } catch (e) {
        throw usage(`--expect: cannot read ${o.expect}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
      const expected = statementsOfFile(text, flavor);
      const s = await fetchSession(o, id);
      const ran: Ran[] = [];
      const notRun: { seq: number; text: string; why: string }[] = [];
      for (const e of s.events) {
        let texts: string[] = [];
        if ((e.type === 'query' || e.type === 'process_kill') && e.sql !== undefined) texts = splitStatements(e.sql, flavor).map((p) => p.text).filter(Boolean);
        else if (e.type === 'execute' && e.sql !== undefined) texts = [e.sql];
        else if (e.type === 'init_db' && e.db !== undefined) texts = [`USE \`${e.db.replace(/`/g, '``')}\``];
        if (!texts.length) continue;
        if (refused(e)) {
          for (const t of texts) notRun.push({ seq: e.seq, text: t, why: decisionText(e) || (resultsOf(e)[0]?.error?.message ?? 'refused') });
          continue;
        }
        for (const t of texts) ran.push({ seq: e.seq, text: t });
      }
      const report = compareStatements(expected, ran, o.by, flavor);
      if (o.json) {
        printJson({ session: s.id, file: o.expect, ...report, refused: notRun });
      } else {
        const how = o.by === 'text' ? 'normalised text (spacing, comments, case and quoting ignored; literals must match)' : 'fingerprint (literals may differ)';
        out(`session ${s.id} ran ${plural(ran.length, 'statement')}; ${o.expect} expects ${expected.length}; compared by ${how}`);
        out();
        const rows: string[][] = [];
        for (const it of report.items) {
          if (it.kind === 'same') rows.push(['same', `#${it.ran.seq}`, String(it.expected), oneLine(it.ran.text, 100)]);
          else if (it.kind === 'extra') rows.push(['EXTRA', `#${it.ran.seq}`, '-', oneLine(it.ran.text, 100)]);
          else if (it.kind === 'missing') rows.push(['MISSING', '-', String(it.expected), oneLine(it.expectedText, 100)]);
          else {
            rows.push(['ALTERED', `#${it.ran.seq}`, String(it.expected), `ran:      ${oneLine(it.ran.text, 90)}`]);
            rows.push(['', '', '', `expected: ${oneLine(it.expectedText, 90)}`]);
          }
        }
        if (rows.length) out(table(['', 'EVENT', 'EXPECTED #', 'STATEMENT'], rows));
        if (notRun.length) {
          out();
          out('refused by the gateway, so not run (not compared):');
          for (const n of notRun) out(`  #${n.seq}  ${oneLine(n.text, 80)}  (${oneLine(n.why, 80)})`);
        }
        out();
        const c = report.counts;
        out(report.same
          ? `same: the session ran exactly the ${plural(expected.length, 'expected statement')}, in order`
          : `DIFFERENT: ${c.altered} altered, ${c.missing} missing, ${c.extra} extra (${c.same} as expected)`);
      }
      if (!report.same) throw new Fails();
    });
}
