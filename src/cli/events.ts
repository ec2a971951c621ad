import type { PresentedEvent, PresentedResult } from '../audit/present.ts';
import { cell, ms, oneLine, plural, table } from './output.ts';

/** How events read in `sessions show` and `sessions replay`. */

/** A statement the gateway refused (policy, approval, audit) never reached the server. */
export function refused(e: PresentedEvent): boolean {
  if (e.decision?.action === 'deny') return true;
  const err = e.error ?? e.results?.[0]?.error;
  return err !== undefined && err.message.startsWith('agentgate: ');
}

/** `allow`, `deny (policy agents, rule #2)`, `approve (…) → approved by carol`; `withReason` adds the why. */
export function decisionText(e: PresentedEvent, withReason = true): string {
  const d = e.decision;
  if (!d) return '';
  const where = `policy ${d.policy}${d.rule ? `, rule ${d.rule}` : ''}`;
  if (d.action === 'allow') return d.rule ? `allow (${where})` : 'allow';
  let s = `${d.action} (${where})`;
  if (e.approval) s += ` → ${e.approval.status}${e.approval.by?.length ? ` by ${e.approval.by.join(', ')}` : ''}`;
  if (withReason && d.reason) s += `: ${d.reason}`;
  return s;
}

/** The decision in a table cell: the action, the rule, the approval's outcome. */
export function decisionCell(e: PresentedEvent): string {
  const d = e.decision;
  if (!d) return '';
  let s = d.rule ? `${d.action} (${d.rule})` : d.action;
  if (e.approval) s += ` → ${e.approval.status}`;
  return s;
}

export function paramsText(e: PresentedEvent): string {
  if (!e.params?.length) return '';
  return `[${e.params.map((p) => (p.value === null ? 'NULL' : p.encoding === 'base64' ? `0x${Buffer.from(String(p.value), 'base64').toString('hex')}` : typeof p.value === 'string' ? JSON.stringify(p.value) : String(p.value))).join(', ')}]`;
}

/** The statement or what stands for it, on one line. */
export function whatText(e: PresentedEvent, max = 120): string {
  switch (e.type) {
    case 'connect': {
      const d = e.detail ?? {};
      const parts = [e.db ? `db=${e.db}` : null, typeof d.via === 'string' ? `via ${d.via}` : null, d.tls === true ? 'tls' : null, d.changeUser ? 'change_user' : null];
      return parts.filter(Boolean).join(' ');
    }
    case 'disconnect':
      return typeof e.detail?.cause === 'string' ? e.detail.cause : '';
    case 'init_db':
      return `USE ${e.db ?? ''}`;
    case 'approval': {
      const a = e.approval;
      const what = typeof e.detail?.what === 'string' ? `${e.detail.what}: ` : '';
      return a ? `${what}approval ${a.id} ${a.status}${a.by?.length ? ` by ${a.by.join(', ')}` : ''}${a.reason ? ` (${a.reason})` : ''}` : '';
    }
    default: {
      const sql = e.sql ? oneLine(e.sql, max) : e.stmtId !== undefined ? `statement #${e.stmtId}` : '';
      const p = paramsText(e);
      return p ? `${sql} ${p}` : sql;
    }
  }
}

/** One line of a result's outcome: rows, affected rows, or the error. */
export function outcomeText(r: PresentedResult): string {
  if (r.error) return `error ${r.error.code}: ${oneLine(r.error.message, 200)}`;
  if (r.columns) return plural(r.rowCount ?? r.rows?.length ?? 0, 'row');
  if (r.affectedRows !== undefined) return `${plural(r.affectedRows, 'row')} affected`;
  return 'ok';
}

export function resultsOf(e: PresentedEvent): PresentedResult[] {
  if (e.results) return e.results;
  if (e.columns || e.error || e.affectedRows !== undefined || e.rowCount !== undefined) return [e];
  return [];
}

/** A result as the client received it: the table of captured rows (masked cells as they were sent). */
export function resultTable(r: PresentedResult, maxRows: number): string {
  const lines: string[] = [];
  if (r.columns) {
    const headers = r.columns.map((c) => (c.masked ? `${c.name} [${c.masked}]` : c.name));
    const rows = (r.rows ?? []).slice(0, maxRows).map((row) => row.map((v) => cell(v)));
    lines.push(table(headers, rows));
    const shown = Math.min(maxRows, r.rows?.length ?? 0);
    const total = r.rowCount ?? r.rows?.length ?? 0;
    const kept = r.rows?.length ?? 0;
    let note = `(${plural(total, 'row')}`;
    if (kept < total) note += `; the recording kept the first ${kept}`;
    if (shown < kept) note += `; ${shown} shown, --max-rows for more`;
    lines.push(`${note})`);
    if (r.truncated) lines.push(`(cut short: ${r.truncated})`);
    if (r.rowsError) lines.push(`(${r.rowsError})`);
  }
  if (r.error) lines.push(`error ${r.error.code}${r.error.sqlState ? ` (${r.error.sqlState})` : ''}: ${oneLine(r.error.message, 500)}`);
  else if (!r.columns && r.affectedRows !== undefined) lines.push(`${plural(r.affectedRows, 'row')} affected${r.lastInsertId && r.lastInsertId !== '0' ? `, last insert id ${r.lastInsertId}` : ''}`);
  return lines.join('\n');
}

export function durationText(e: PresentedEvent): string {
  return e.durationMs === undefined ? '' : ms(e.durationMs);
}
