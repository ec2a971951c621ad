import { Option, type Command } from 'commander';
import type { Approval } from '../audit/types.ts';
import { ApiClient, seg, type ApiOptions } from './api-client.ts';
import { apiOptions, intIn, jsonOption } from './common.ts';
import { paramsText } from './events.ts';
import { fields, oneLine, out, printJson, table, time } from './output.ts';

const STATUSES = ['pending', 'approved', 'denied', 'timed_out', 'expired', 'all'] as const;

function approvalFields(a: Approval): [string, string][] {
  const p = a.params?.length ? paramsText({ seq: 0, at: '', type: 'execute', params: a.params }) : '';
  const pairs: [string, string][] = [
    ['approval', a.id],
    ['status', a.status],
    ['requested by', `${a.identity.subject} (${a.identity.via}; groups: ${a.identity.groups.join(', ') || 'none'})`],
    ['target', a.target],
    ['session', a.sessionId],
    ['statement', oneLine(a.sql, 300) + (p ? ` ${p}` : '')],
    ['kinds', a.kinds.join(', ')],
    ['rule', `${a.rule ?? '-'} (policy ${a.policy})`],
    ['created', time(a.createdAt)],
    ['expires', time(a.expiresAt)],
  ];
  if (a.estimatedRows !== undefined) pairs.push(['estimated rows', String(a.estimatedRows)]);
  if (a.minApprovals > 1) pairs.push(['approvals', `${a.votes.filter((v) => v.decision === 'approve').length} of ${a.minApprovals}`]);
  if (a.decidedAt) pairs.push(['decided', `${time(a.decidedAt)} by ${a.decidedBy ?? '-'}`]);
  if (a.reason) pairs.push(['reason', a.reason]);
  return pairs;
}

export function registerApprovals(program: Command): void {
  const approvals = program.command('approvals').description('the approval queue: list, show, approve, deny');

  jsonOption(apiOptions(approvals
    .command('list')
    .description('list approval requests, newest first (the pending ones unless --status)')
    .addOption(new Option('--status <status>', 'which requests').choices(STATUSES).default('pending'))
    .option('--limit <n>', 'at most this many (1-1000)', intIn(1, 1000), 100)))
    .action(async (o: ApiOptions & { status: string; limit: number; json?: boolean }) => {
      const r = await ApiClient.from(o).get<{ approvals: Approval[] }>('/api/approvals', { status: o.status, limit: o.limit });
      if (o.json) return printJson(r);
      if (!r.approvals.length) return out(o.status === 'all' ? 'no approval requests' : `no ${o.status} approval requests`);
      out(table(
        ['ID', 'STATUS', 'CREATED (UTC)', 'EXPIRES (UTC)', 'TARGET', 'REQUESTED BY', 'DECIDED BY', 'STATEMENT'],
        r.approvals.map((a) => [a.id, a.status, time(a.createdAt), time(a.expiresAt), a.target, oneLine(a.identity.subject, 30), a.decidedBy ?? '-', oneLine(a.sql, 70)]),
      ));
    });

  jsonOption(apiOptions(approvals
    .command('show')
    .description('one approval request in full')
    .argument('<id>', 'approval id')))
    .action(async (id: string, o: ApiOptions & { json?: boolean }) => {
      const a = await ApiClient.from(o).get<Approval>(`/api/approvals/${seg(id)}`);
      if (o.json) return printJson(a);
      out(fields(approvalFields(a)));
    });

  for (const decision of ['approve', 'deny'] as const) {
    jsonOption(apiOptions(approvals
      .command(decision)
      .description(decision === 'approve'
        ? 'approve a pending request: the held statement runs (you must be in an approver group, and not the requester)'
        : 'deny a pending request: the held statement fails with "agentgate: approval denied"')
      .argument('<id>', 'approval id')
      .option('--reason <text>', 'why (recorded with the decision and shown to the requester)')))
      .action(async (id: string, o: ApiOptions & { reason?: string; json?: boolean }) => {
        const a = await ApiClient.from(o).post<Approval>(`/api/approvals/${seg(id)}/${decision}`, o.reason === undefined ? {} : { reason: o.reason });
        if (o.json) return printJson(a);
        if (a.status === 'pending') {
          const n = a.votes.filter((v) => v.decision === 'approve').length;
          out(`approval ${a.id}: your approval is recorded (${n} of ${a.minApprovals}); it stays pending`);
        } else {
          out(`approval ${a.id} ${a.status}${a.decidedBy ? ` by ${a.decidedBy}` : ''}${a.reason ? `: ${a.reason}` : ''}`);
        }
      });
  }
}
