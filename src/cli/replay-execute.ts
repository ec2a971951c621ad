import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { presentResult, type PresentedEvent, type PresentedResult, type PresentedSession } from '../audit/present.ts';
import type { ColumnInfo, ParamValue, ResultRecord } from '../audit/types.ts';
import type { Config, PolicyConfig, TargetConfig } from '../config/types.ts';
import { connectUpstream, type Upstream } from '../gateway/upstream.ts';
import { loadHashKey } from '../gateway/keys.ts';
import { createPolicyEngine } from '../policy/index.ts';
import type { PolicyContext, PolicyEngine } from '../policy/types.ts';
import { Cap, Com, GATEWAY_CAPABILITIES } from '../protocol/constants.ts';
import type { CellValue } from '../protocol/rows.ts';
import { classify } from '../sql/index.ts';
import type { Classification, ServerFlavor, StatementKind } from '../sql/types.ts';
import { compareResults } from './compare.ts';
import { loadCliConfig } from './config.ts';
import { failed, usage } from './errors.ts';
import { decisionText, outcomeText, paramsText, refused, resultsOf } from './events.ts';
import { cell, ms, oneLine, out, plural, table } from './output.ts';
import { rawClose, rawExecute, rawPrepare, rawQuery, type RawResult } from '../gateway/internal.ts';

/**
 * `sessions replay ID --execute`: runs the session's statements again, directly on the target's server with the
 * vaulted credential, and says for each whether today's result equals the recorded one.
 *
 * Today's rows go through the same masking as the session's (its policy, the deployment's hash key, the schema
 * the session was in), so recorded masked rows and fresh masked rows compare equal when the data is the same.
 * Without --allow-writes only reads run, and the connection is read-only besides.
 */

export interface ExecuteOptions {
  config?: string;
  target?: string;
  allowWrites?: boolean;
}

/** Kinds that only read. `use` changes the current schema, which later statements need. */
const READ_KINDS: ReadonlySet<StatementKind> = new Set(['select', 'show', 'describe', 'explain', 'use']);

export interface StatementReport {
  seq: number;
  type: string;
  sql: string;
  params?: ParamValue[];
  status: 'same' | 'different' | 'skipped' | 'failed';
  /** Why it was skipped or failed. */
  reason?: string;
  differences?: string[];
  /** Rows that came back today and not in the recording, and the other way round (cells as the client sees them). */
  added?: CellValue[][];
  removed?: CellValue[][];
  recorded?: { outcome: string; durationMs?: number };
  now?: { outcome: string; durationMs: number };
}

export interface ExecuteReport {
  session: string;
  target: string;
  server: string;
  policy: string;
  readOnly: boolean;
  /** Where the masking hash key came from; `none` means hash-masked cells cannot match. */
  hashKey: 'config' | 'data dir' | 'none';
  statements: StatementReport[];
  summary: { same: number; different: number; skipped: number; failed: number };
}

function columnInfos(r: RawResult, styles: readonly (ColumnInfo['masked'])[] | undefined): ColumnInfo[] {
  return r.columns.map((d, i) => ({
    name: d.name, db: d.schema, table: d.orgTable, column: d.orgName, type: d.type, flags: d.flags, charset: d.charset,
    decimals: d.decimals, masked: styles?.[i] ?? null,
  }));
}

interface Runner {
  up: Upstream;
  caps: number;
  flavor: ServerFlavor;
  engine: PolicyEngine;
  policy: PolicyConfig;
  ctx: PolicyContext;
  prepared: Map<string, number>;
}

/** Masks what came back exactly as the gateway would have, and presents it as the recording presents its rows. */
function present(run: Runner, raw: RawResult[], cls: Classification | null, binary: boolean): PresentedResult[] {
  return raw.map((r, i) => {
    if (r.error && !r.columns.length) return presentResult({ error: r.error });
    if (!r.columns.length) return presentResult({ affectedRows: r.affectedRows ?? 0 });
    const masker = run.engine.masker(run.policy, r.columns, cls, i, run.ctx, binary);
    const payloads = r.payloads.map((p) => masker?.maskRow(p) ?? p);
    const rec: ResultRecord = { columns: columnInfos(r, masker?.styles), rows: { format: r.format, payloads }, rowCount: r.rowCount };
    if (r.error) rec.error = r.error;
    return presentResult(rec);
  });
}

/** Recorded rows of an execute that opened a cursor arrive in the fetch events after it. */
function recordedResults(events: PresentedEvent[], i: number): PresentedResult[] {
  const e = events[i]!;
  const results = resultsOf(e).map((r) => ({ ...r, rows: r.rows ? [...r.rows] : r.rows }));
  if (e.type !== 'execute' || results.length !== 1) return results;
  const first = results[0]!;
  for (let j = i + 1; j < events.length; j++) {
    const f = events[j]!;
    if (f.type !== 'fetch' || f.stmtId !== e.stmtId) {
      if (f.type === 'execute' && f.stmtId === e.stmtId) break;
      continue;
    }
    for (const r of resultsOf(f)) {
      first.rows = [...(first.rows ?? []), ...(r.rows ?? [])];
      first.rowCount = (first.rowCount ?? 0) + (r.rowCount ?? 0);
      if (r.error) first.error = r.error;
    }
  }
  return results;
}

async function currentDb(run: Runner): Promise<string | null> {
  const [r] = await rawQuery(run.up.conn, run.caps, 'SELECT DATABASE()');
  if (!r || r.error || !r.payloads[0]) return run.ctx.db;
  const v = presentResult({ columns: columnInfos(r, undefined), rows: { format: 'text', payloads: r.payloads } }).rows?.[0]?.[0];
  return typeof v === 'string' ? v : null;
}

function hashKeyOf(config: Config): { key: Buffer; from: ExecuteReport['hashKey'] } {
  if (config.masking.hashKey) return { key: loadHashKey(config), from: 'config' };
  // Never create a key here: one made now would hash differently from the gateway's.
  if (existsSync(join(config.dataDir, 'hash-key'))) return { key: loadHashKey(config), from: 'data dir' };
  return { key: randomBytes(32), from: 'none' };
}

export async function replayExecute(s: PresentedSession & { events: PresentedEvent[] }, o: ExecuteOptions & { config: string }): Promise<ExecuteReport> {
  const config = loadCliConfig(o.config);
  const targetName = o.target ?? s.target;
  const target: TargetConfig | undefined = config.targets.find((t) => t.name === targetName);
  if (!target) throw usage(`--target: ${o.config} has no target "${targetName}" (targets: ${config.targets.map((t) => t.name).join(', ')})`);
  const policy = config.policies.find((p) => p.name === s.policy);
  if (!policy) throw failed(`the session's policy "${s.policy}" is not in ${o.config}: its masking cannot be reproduced`);
  const hk = hashKeyOf(config);
  if (hk.from === 'none') {
    process.stderr.write(`agentgate: no masking hash key in ${o.config} or ${config.dataDir}: hash-masked cells will not match the recording\n`);
  }
  const engine = createPolicyEngine({ policies: config.policies, hashKey: hk.key, defaultMinApprovals: config.approvals.minApprovals });
  const initialDb = s.events.find((e) => e.type === 'connect')?.db ?? null;
  let up: Upstream;
  try {
    up = await connectUpstream(target, {
      // No LOCAL INFILE: a replay never sends files.
      capabilities: (GATEWAY_CAPABILITIES & ~Cap.LOCAL_FILES) >>> 0,
      charset: 45,
      maxPacket: 16 * 1024 * 1024,
      database: initialDb,
      attributes: new Map([['program_name', 'agentgate-replay'], ['_agentgate_replay_of', s.id]]),
      maxMessage: 1024 * 1024 * 1024,
    });
  } catch (e) {
    throw failed(`cannot log in to target "${target.name}" (${target.upstream.host}:${target.upstream.port}): ${(e as Error).message}`);
  }
  const run: Runner = {
    up, caps: up.capabilities, flavor: { ...up.info.flavor, noBackslashEscapes: false }, engine, policy,
    ctx: { identity: s.identity, target: s.target, db: initialDb }, prepared: new Map(),
  };
  const report: ExecuteReport = {
    session: s.id, target: target.name, server: up.info.version, policy: policy.name, readOnly: !o.allowWrites, hashKey: hk.from,
    statements: [], summary: { same: 0, different: 0, skipped: 0, failed: 0 },
  };
  try {
    if (!o.allowWrites) {
      // A second fence besides the kinds: the server itself refuses writes on this connection.
      const [r] = await rawQuery(up.conn, run.caps, 'SET SESSION TRANSACTION READ ONLY');
      if (r?.error) throw failed(`the replay connection could not be made read-only: ${r.error.message}`);
    }
    let lost: string | null = null;
    for (let i = 0; i < s.events.length; i++) {
      const e = s.events[i]!;
      const sql = e.type === 'init_db' ? (e.db !== undefined ? `USE \`${e.db.replace(/`/g, '``')}\`` : undefined) : e.sql;
      if (sql === undefined || !['query', 'execute', 'init_db'].includes(e.type)) continue;
      const rep: StatementReport = { seq: e.seq, type: e.type, sql, status: 'skipped' };
      if (e.params) rep.params = e.params;
      const recorded = recordedResults(s.events, i);
      rep.recorded = { outcome: recorded.map(outcomeText).join('; ') || 'ok' };
      if (e.durationMs !== undefined) rep.recorded.durationMs = e.durationMs;
      report.statements.push(rep);
      if (lost) {
        rep.reason = `not run: ${lost}`;
        continue;
      }
      if (refused(e)) {
        rep.reason = `refused at the time: ${decisionText(e) || recorded[0]?.error?.message || 'refused'}`;
        continue;
      }
      const cls = classify(sql, run.flavor);
      const kinds = [...new Set([...(e.kinds ?? []), ...cls.kinds])];
      if (kinds.includes('load_data')) {
        rep.reason = 'LOAD DATA is never replayed';
        continue;
      }
      if (!o.allowWrites && !kinds.every((k) => READ_KINDS.has(k))) {
        rep.reason = `not a read (${kinds.join(', ')}); --allow-writes runs it`;
        continue;
      }
      const started = performance.now();
      let now: PresentedResult[];
      try {
        if (e.type === 'execute') {
          let id = run.prepared.get(sql);
          let prepError: PresentedResult | null = null;
          if (id === undefined) {
            const p = await rawPrepare(up.conn, run.caps, sql);
            if ('error' in p) prepError = presentResult({ error: p.error });
            else run.prepared.set(sql, (id = p.stmtId));
          }
          now = prepError ? [prepError] : present(run, await rawExecute(up.conn, run.caps, id!, e.params ?? []), cls, true);
        } else {
          now = present(run, await rawQuery(up.conn, run.caps, sql), cls, false);
        }
        if (kinds.includes('use')) run.ctx = { ...run.ctx, db: await currentDb(run) };
      } catch (err) {
        lost = `the connection failed at #${e.seq}`;
        rep.status = 'failed';
        rep.reason = (err as Error).message;
        continue;
      }
      rep.now = { outcome: now.map(outcomeText).join('; ') || 'ok', durationMs: Math.round((performance.now() - started) * 1000) / 1000 };
      // init_db has no result to compare: only whether it worked.
      const d = e.type === 'init_db'
        ? { same: !recorded[0]?.error === !now[0]?.error, reasons: recorded[0]?.error || now[0]?.error ? [`recorded ${rep.recorded.outcome}; now ${rep.now.outcome}`] : [], added: [], removed: [] }
        : compareResults(recorded, now);
      rep.status = d.same ? 'same' : 'different';
      if (!d.same) {
        rep.differences = d.reasons;
        if (d.added.length) rep.added = d.added;
        if (d.removed.length) rep.removed = d.removed;
      }
    }
  } finally {
    for (const id of run.prepared.values()) {
      try {
        rawClose(up.conn, id);
      } catch {
        // The connection is going anyway.
      }
    }
    up.conn.send(Buffer.from([Com.QUIT]), 0);
    up.conn.end('replay done');
  }
  for (const st of report.statements) report.summary[st.status]++;
  return report;
}

const DIFF_ROWS = 10;

export function printExecuteReport(r: ExecuteReport): void {
  out(`re-ran session ${r.session} on target ${r.target} (${r.server}), masked as policy ${r.policy}${r.readOnly ? ', read-only' : ', writes allowed'}`);
  if (r.hashKey === 'none') out('(no masking hash key was found: hash-masked cells cannot match)');
  out();
  for (const st of r.statements) {
    const label = st.status === 'same' || st.status === 'skipped' ? st.status : st.status.toUpperCase();
    const p = st.params ? ` ${paramsText({ seq: st.seq, at: '', type: 'execute', params: st.params })}` : '';
    out(`#${st.seq}  ${label}  ${oneLine(st.sql, 100)}${p}`);
    if (st.reason) out(`      ${st.reason}`);
    if (st.now) {
      out(`      recorded: ${st.recorded?.outcome ?? '-'}${st.recorded?.durationMs !== undefined ? ` in ${ms(st.recorded.durationMs)}` : ''}; now: ${st.now.outcome} in ${ms(st.now.durationMs)}`);
    }
    for (const d of st.differences ?? []) out(`      ${d}`);
    const diffRows = [...(st.removed ?? []).map((row) => ['-', ...row.map((v) => cell(v))]), ...(st.added ?? []).map((row) => ['+', ...row.map((v) => cell(v))])];
    if (diffRows.length) {
      const shown = diffRows.slice(0, DIFF_ROWS);
      const width = Math.max(...shown.map((x) => x.length));
      out(table(['', ...Array.from({ length: width - 1 }, (_, i) => `c${i + 1}`)], shown).split('\n').slice(1).map((l) => `        ${l}`).join('\n'));
      if (diffRows.length > DIFF_ROWS) out(`        … ${diffRows.length - DIFF_ROWS} more`);
    }
  }
  const c = r.summary;
  out();
  out(`${plural(c.same + c.different + c.failed, 'statement')} re-run: ${c.same} same, ${c.different} different${c.failed ? `, ${c.failed} failed` : ''}; ${c.skipped} skipped`);
}
