// A session played back: a timeline of its events (virtualized, so tens of thousands stay fast) to step through
// or play at a chosen speed, and the selected event in full: SQL, decision, approval, duration, errors and the
// result as the agent received it, masked cells marked.
import { useCallback, useEffect, useMemo, useRef, useState, type KeyboardEvent } from 'react';
import { authHeaders, request } from '../api.ts';
import { fmtDuration, fmtOffset, fmtTime, shortId } from '../format.ts';
import { Link } from '../router.tsx';
import { Sql } from '../sql.tsx';
import type { Cell, Result, SessionEvent, SessionWithEvents } from '../types.ts';
import { VirtualList } from '../VirtualList.tsx';
import { Kinds } from './Approvals.tsx';

const ROW_HEIGHT = 52;
const MAX_GAP_MS = 2000;
const SHOWN_ROWS = 200;

type Filter = 'all' | 'statements' | 'problems';
const SPEEDS = [
  { value: '1', label: 'real time' },
  { value: '2', label: '2× speed' },
  { value: '5', label: '5× speed' },
  { value: '20', label: '20× speed' },
  { value: 'steady', label: 'one event a second' },
];

function isProblem(e: SessionEvent): boolean {
  return !!e.error || e.decision?.action === 'deny' || e.decision?.action === 'approve' || !!e.approval
    || !!e.results?.some((r) => r.error);
}

function outcome(e: SessionEvent): { cls: string; text: string } | null {
  if (e.approval) return { cls: `status-${e.approval.status}`, text: e.approval.status.replace('_', ' ') };
  if (e.decision?.action === 'deny') return { cls: 'status-denied', text: 'denied' };
  if (e.error) return { cls: 'status-error', text: 'error' };
  if (e.decision?.action === 'approve') return { cls: 'status-pending', text: 'approval' };
  return null;
}

function CellView({ cell }: { cell: Cell }) {
  if (cell === null) return <span className="null">NULL</span>;
  if (typeof cell === 'string') return <>{cell}</>;
  return <span className="bytes" title="bytes, base64">0x… {cell.base64.length > 40 ? `${cell.base64.slice(0, 40)}…` : cell.base64}</span>;
}

function ResultView({ r, index, total }: { r: Result; index: number; total: number }) {
  const [all, setAll] = useState(false);
  const rows = r.rows ?? [];
  const shown = all ? rows : rows.slice(0, SHOWN_ROWS);
  const label = total > 1 ? `Result ${index + 1} of ${total}` : 'Result';
  return (
    <section className="result" aria-label={label}>
      <h3>{label}</h3>
      <p className="muted">
        {r.rowCount !== undefined && <>{r.rowCount.toLocaleString('en')} row{r.rowCount === 1 ? '' : 's'} received{rows.length < r.rowCount ? `, ${rows.length.toLocaleString('en')} recorded` : ''}. </>}
        {r.affectedRows !== undefined && <>{r.affectedRows.toLocaleString('en')} row{r.affectedRows === 1 ? '' : 's'} affected. </>}
        {r.lastInsertId !== undefined && r.lastInsertId !== '0' && <>Last insert id {r.lastInsertId}. </>}
        {!!r.warnings && <>{r.warnings} warning{r.warnings === 1 ? '' : 's'}. </>}
      </p>
      {r.truncated && <p className="warn">Cut short: {r.truncated}</p>}
      {r.error && <p className="error-box"><strong>Error {r.error.code}{r.error.sqlState ? ` (${r.error.sqlState})` : ''}:</strong> {r.error.message}</p>}
      {r.columns && r.columns.length > 0 && (
        <div className="table-wrap" role="region" aria-label={`${label}: rows as the agent received them`} tabIndex={0}>
          <table className="table rows">
            <thead>
              <tr>
                {r.columns.map((c, i) => (
                  <th key={i} scope="col" data-masked={c.masked ?? undefined} title={[c.db, c.table, c.column].filter(Boolean).join('.') || 'computed'}>
                    {c.name}
                    {c.masked && <span className="mask-tag">masked: {c.masked}</span>}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {shown.map((row, i) => (
                <tr key={i}>
                  {row.map((cell, j) => {
                    const m = r.columns?.[j]?.masked ?? null;
                    return m
                      ? (
                        <td key={j} className="masked" data-masked={m} title={`masked (${m})`}>
                          <span className="mask-mark" aria-hidden="true" />
                          <CellView cell={cell} />
                          <span className="sr-only"> (masked: {m})</span>
                        </td>
                      )
                      : <td key={j}><CellView cell={cell} /></td>;
                  })}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {rows.length > SHOWN_ROWS && !all && (
        <button type="button" className="ghost" onClick={() => setAll(true)}>Show all {rows.length.toLocaleString('en')} recorded rows</button>
      )}
    </section>
  );
}

function EventDetail({ e, start }: { e: SessionEvent; start: string }) {
  const results: Result[] = e.results && e.results.length > 0 ? e.results : (e.columns || e.rows || e.rowCount !== undefined || e.affectedRows !== undefined) ? [e] : [];
  return (
    <article className="event-detail" aria-labelledby="event-h" data-seq={e.seq}>
      <h2 id="event-h" tabIndex={-1}>Event #{e.seq}: {e.type.replace('_', ' ')}</h2>
      <dl className="facts">
        <div><dt>At</dt><dd><time dateTime={e.at}>{fmtTime(e.at)}</time> <span className="muted">({fmtOffset(start, e.at)})</span></dd></div>
        {e.durationMs !== undefined && <div><dt>Duration</dt><dd>{fmtDuration(e.durationMs)}</dd></div>}
        {e.db && <div><dt>Database</dt><dd>{e.db}</dd></div>}
        {e.stmtId !== undefined && <div><dt>Statement id</dt><dd>{e.stmtId}</dd></div>}
      </dl>
      {e.sql !== undefined && <Sql sql={e.sql} />}
      <Kinds kinds={e.kinds} />
      {e.params && e.params.length > 0 && (
        <div>
          <h3>Parameters</h3>
          <ol className="params-list">
            {e.params.map((p, i) => <li key={i}><span className="muted">{p.type}{p.unsigned ? ' unsigned' : ''}</span> {p.value === null ? <span className="null">NULL</span> : String(p.value)}</li>)}
          </ol>
        </div>
      )}
      {e.decision && (
        <p className={`decision decision-${e.decision.action}`}>
          <strong>{e.decision.action === 'allow' ? 'Allowed' : e.decision.action === 'deny' ? 'Denied' : 'Sent for approval'}</strong>
          {' '}by {e.decision.rule ? <>rule <em>{e.decision.rule}</em> of </> : 'default of '}policy <em>{e.decision.policy}</em>
          {e.decision.reason && <span className="reason">{e.decision.reason}</span>}
        </p>
      )}
      {e.approval && (
        <p className={`approval-inline status-${e.approval.status}`}>
          <strong>Approval {e.approval.status.replace('_', ' ')}</strong>
          {e.approval.by && e.approval.by.length > 0 && <> by {e.approval.by.join(', ')}</>}
          {e.approval.reason && <>: “{e.approval.reason}”</>}
          <span className="muted"> (request {shortId(e.approval.id)})</span>
        </p>
      )}
      {e.error && !results.some((r) => r.error) && (
        <p className="error-box"><strong>Error {e.error.code}{e.error.sqlState ? ` (${e.error.sqlState})` : ''}:</strong> {e.error.message}</p>
      )}
      {results.map((r, i) => <ResultView key={`${e.seq}-${i}`} r={r} index={i} total={results.length} />)}
      {e.detail && (
        <details className="detail-json">
          <summary>Details</summary>
          <pre tabIndex={0}>{JSON.stringify(e.detail, null, 2)}</pre>
        </details>
      )}
    </article>
  );
}

export function SessionPage({ id }: { id: string }) {
  const [session, setSession] = useState<SessionWithEvents | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [filter, setFilter] = useState<Filter>('all');
  const [pos, setPos] = useState(0);
  const [playing, setPlaying] = useState(false);
  const [speed, setSpeed] = useState('5');
  const wantedSeq = useRef<number | null>(null);

  useEffect(() => {
    const ctl = new AbortController();
    setSession(null);
    setError(null);
    const seq = Number(new URLSearchParams(window.location.search).get('seq'));
    wantedSeq.current = Number.isInteger(seq) && seq > 0 ? seq : null;
    request<SessionWithEvents>(`/api/sessions/${encodeURIComponent(id)}`, { signal: ctl.signal })
      .then(setSession)
      .catch((e: unknown) => {
        if ((e as Error).name !== 'AbortError') setError((e as Error).message);
      });
    return () => ctl.abort();
  }, [id]);

  const events = session?.events;
  const visible = useMemo(() => {
    if (!events) return [];
    if (filter === 'all') return events;
    if (filter === 'statements') return events.filter((e) => e.sql !== undefined);
    return events.filter(isProblem);
  }, [events, filter]);

  // Opened from a link to one event (search, integrity): select it.
  useEffect(() => {
    if (!events || wantedSeq.current === null) return;
    const i = events.findIndex((e) => e.seq === wantedSeq.current);
    wantedSeq.current = null;
    if (i >= 0) {
      setFilter('all');
      setPos(i);
    }
  }, [events]);

  const current = visible[Math.min(pos, visible.length - 1)];
  useEffect(() => {
    if (!current) return;
    const u = new URL(window.location.href);
    u.searchParams.set('seq', String(current.seq));
    window.history.replaceState(null, '', u.pathname + u.search);
  }, [current]);

  const go = useCallback((i: number) => setPos(Math.max(0, Math.min(visible.length - 1, i))), [visible.length]);

  useEffect(() => {
    if (!playing) return;
    if (pos >= visible.length - 1) {
      setPlaying(false);
      return;
    }
    const a = visible[pos];
    const b = visible[pos + 1];
    const gap = a && b ? Math.max(0, Date.parse(b.at) - Date.parse(a.at)) : 0;
    const delay = speed === 'steady' ? 1000 : Math.max(30, Math.min(MAX_GAP_MS, gap) / Number(speed));
    const t = setTimeout(() => setPos((p) => p + 1), delay);
    return () => clearTimeout(t);
  }, [playing, pos, visible, speed]);

  const onKey = (e: KeyboardEvent<HTMLDivElement>) => {
    const moves: Record<string, number> = { ArrowDown: 1, j: 1, ArrowUp: -1, k: -1, PageDown: 10, PageUp: -10 };
    if (e.key in moves) go(pos + moves[e.key]!);
    else if (e.key === 'Home') go(0);
    else if (e.key === 'End') go(visible.length - 1);
    else if (e.key === ' ') setPlaying((p) => !p);
    else return;
    e.preventDefault();
  };

  const exportSession = async () => {
    const res = await fetch(`/api/sessions/${encodeURIComponent(id)}/export`, { headers: authHeaders() });
    if (!res.ok) {
      setError(`export failed (HTTP ${res.status})`);
      return;
    }
    const url = URL.createObjectURL(await res.blob());
    const a = document.createElement('a');
    a.href = url;
    a.download = `agentgate-session-${id}.jsonl`;
    a.click();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  };

  if (error) {
    return (
      <>
        <h1 tabIndex={-1}>Session {shortId(id)}</h1>
        <p className="error" role="alert">{error}</p>
        <p><Link to="/sessions">Back to the sessions</Link></p>
      </>
    );
  }
  if (!session || !events) {
    return (
      <>
        <h1 tabIndex={-1}>Session {shortId(id)}</h1>
        <p role="status">Loading the session…</p>
      </>
    );
  }

  return (
    <>
      <div className="page-head">
        <h1 tabIndex={-1}>Session of {session.identity.subject} on {session.target}</h1>
        <button type="button" className="ghost" onClick={() => void exportSession()}>Export (JSON Lines)</button>
      </div>
      <dl className="facts summary">
        <div><dt>Identity</dt><dd>{session.identity.subject} ({session.identity.via === 'oidc' ? 'OIDC' : 'service account'}{session.identity.groups.length ? `; ${session.identity.groups.join(', ')}` : ''})</dd></div>
        <div><dt>Client</dt><dd className="mono">{session.client}{session.tls ? ' (TLS)' : ''}</dd></div>
        <div><dt>Started</dt><dd>{fmtTime(session.startedAt)}</dd></div>
        <div><dt>Ended</dt><dd>{session.endedAt ? `${fmtTime(session.endedAt)}${session.endCause ? ` (${session.endCause})` : ''}` : 'still open'}</dd></div>
        <div><dt>Statements</dt><dd>{session.statements}{session.denied ? `, ${session.denied} denied` : ''}{session.approvals ? `, ${session.approvals} with approval` : ''}</dd></div>
        <div><dt>Session id</dt><dd className="mono">{session.id}</dd></div>
      </dl>
      <div className="player card" role="group" aria-label="Replay controls">
        <button type="button" onClick={() => go(0)} aria-label="First event">First</button>
        <button type="button" onClick={() => go(pos - 1)} aria-label="Previous event">Prev</button>
        <button type="button" className="primary play" onClick={() => setPlaying((p) => !p)} aria-pressed={playing}>{playing ? 'Pause' : 'Play'}</button>
        <button type="button" onClick={() => go(pos + 1)} aria-label="Next event">Next</button>
        <button type="button" onClick={() => go(visible.length - 1)} aria-label="Last event">Last</button>
        <label htmlFor="speed">Speed</label>
        <select id="speed" value={speed} onChange={(e) => setSpeed(e.target.value)}>
          {SPEEDS.map((s) => <option key={s.value} value={s.value}>{s.label}</option>)}
        </select>
        <label htmlFor="show">Show</label>
        <select id="show" value={filter} onChange={(e) => { setFilter(e.target.value as Filter); setPos(0); }}>
          <option value="all">every event</option>
          <option value="statements">statements</option>
          <option value="problems">denials, errors, approvals</option>
        </select>
        <span className="muted position" aria-live="off">{visible.length ? `${Math.min(pos, visible.length - 1) + 1} / ${visible.length.toLocaleString('en')}` : '0 / 0'}</span>
      </div>
      <div className="replay">
        <div className="timeline">
          <h2 id="timeline-h" className="sr-only">Timeline</h2>
          {visible.length === 0
            ? <p className="empty">No event to show.</p>
            : (
              <VirtualList
                count={visible.length}
                rowHeight={ROW_HEIGHT}
                activeIndex={pos}
                role="listbox"
                ariaLabel="Events of the session (arrow keys move, space plays)"
                activeDescendant={current ? `ev-${current.seq}` : undefined}
                onKeyDown={onKey}
                renderRow={(i) => {
                  const e = visible[i]!;
                  const o = outcome(e);
                  const selected = i === pos;
                  return (
                    <div
                      id={`ev-${e.seq}`}
                      role="option"
                      aria-selected={selected}
                      aria-posinset={i + 1}
                      aria-setsize={visible.length}
                      className={`ev ${selected ? 'selected' : ''}`}
                      onClick={() => { setPos(i); setPlaying(false); }}
                      data-seq={e.seq}
                    >
                      <span className="ev-seq">#{e.seq}</span>
                      <span className="ev-time">{fmtOffset(session.startedAt, e.at)}</span>
                      <span className="ev-type">{e.type.replace('_', ' ')}</span>
                      {o && <span className={`status ${o.cls}`}>{o.text}</span>}
                      <span className="ev-sql">{e.sql !== undefined ? <Sql sql={e.sql} inline /> : e.db ? `db ${e.db}` : ''}</span>
                      {e.durationMs !== undefined && <span className="ev-dur">{fmtDuration(e.durationMs)}</span>}
                    </div>
                  );
                }}
              />
            )}
        </div>
        <div className="detail">{current ? <EventDetail e={current} start={session.startedAt} /> : null}</div>
      </div>
    </>
  );
}
