import { useState } from 'react';
import { ApiError, request } from '../api.ts';
import { useMe, useQueue } from '../App.tsx';
import { fmtTime, shortId } from '../format.ts';
import { Link } from '../router.tsx';
import { Sql } from '../sql.tsx';
import type { Approval } from '../types.ts';

const STATUS_TEXT: Record<string, string> = {
  pending: 'pending', approved: 'approved', denied: 'denied', timed_out: 'timed out', expired: 'expired',
};

export function Kinds({ kinds }: { kinds: string[] | undefined }) {
  if (!kinds?.length) return null;
  return (
    <ul className="kinds" aria-label="Statement kinds">
      {kinds.map((k) => <li key={k} className={`kind kind-${k}`}>{k}</li>)}
    </ul>
  );
}

function explainError(e: unknown): string {
  if (e instanceof ApiError) {
    if (e.status === 403) return `You cannot decide this request: ${e.message}.`;
    if (e.status === 409) return `Already decided: ${e.message}.`;
    if (e.status === 404) return `This request no longer exists: ${e.message}.`;
    return `${e.message} (HTTP ${e.status} ${e.code}).`;
  }
  return e instanceof Error ? e.message : String(e);
}

function PendingCard({ a }: { a: Approval }) {
  const me = useMe();
  const { upsert } = useQueue();
  const [reason, setReason] = useState('');
  const [busy, setBusy] = useState<null | 'approve' | 'deny'>(null);
  const [error, setError] = useState<string | null>(null);
  const own = a.identity.subject === me.name;
  const votes = a.votes ?? [];

  const decide = async (decision: 'approve' | 'deny') => {
    setBusy(decision);
    setError(null);
    try {
      const r = await request<Approval>(`/api/approvals/${encodeURIComponent(a.id)}/${decision}`, {
        method: 'POST', body: reason.trim() ? { reason: reason.trim() } : {},
      });
      upsert(r);
    } catch (e) {
      setError(explainError(e));
      // A conflict means someone else moved first: show the request as it is now.
      if (e instanceof ApiError && e.status === 409) {
        request<Approval>(`/api/approvals/${encodeURIComponent(a.id)}`).then(upsert).catch(() => {});
      }
    } finally {
      setBusy(null);
    }
  };

  const titleId = `ap-${a.id}-title`;
  return (
    <article className="card approval" aria-labelledby={titleId} data-approval-id={a.id}>
      <header className="approval-head">
        <h3 id={titleId}>
          <span className="subject">{a.identity.subject}</span>
          <span className="muted"> on </span>
          <span className="target">{a.target}</span>
        </h3>
        <Kinds kinds={a.kinds} />
      </header>
      <Sql sql={a.sql} />
      <dl className="facts">
        <div><dt>Identity</dt><dd>{a.identity.subject} ({a.identity.via === 'oidc' ? 'OIDC' : 'service account'}{a.identity.groups.length ? `; ${a.identity.groups.join(', ')}` : ''})</dd></div>
        <div><dt>Rule</dt><dd>{a.rule ?? 'default'}{a.policy ? ` of policy ${a.policy}` : ''}</dd></div>
        <div><dt>Estimated rows</dt><dd>{a.estimatedRows === undefined ? 'not estimated' : a.estimatedRows.toLocaleString('en')}</dd></div>
        <div><dt>Asked</dt><dd><time dateTime={a.createdAt}>{fmtTime(a.createdAt)}</time></dd></div>
        {a.expiresAt && <div><dt>Expires</dt><dd><time dateTime={a.expiresAt}>{fmtTime(a.expiresAt)}</time></dd></div>}
        <div><dt>Session</dt><dd><Link to={`/sessions/${encodeURIComponent(a.sessionId)}`}>{shortId(a.sessionId)}</Link></dd></div>
        {(a.minApprovals ?? 1) > 1 && (
          <div><dt>Approvals</dt><dd>{votes.filter((v) => v.decision === 'approve').length} of {a.minApprovals} ({votes.map((v) => v.by).join(', ') || 'none yet'})</dd></div>
        )}
        {a.mode === 'retry' && <div><dt>Mode</dt><dd>runs when the agent retries it after approval</dd></div>}
      </dl>
      {a.params && a.params.length > 0 && (
        <p className="params"><span className="muted">Parameters: </span>{a.params.map((p) => String(p.value)).join(', ')}</p>
      )}
      <div className="decide">
        <label htmlFor={`reason-${a.id}`}>Reason <span className="muted">(optional)</span></label>
        <input
          id={`reason-${a.id}`}
          type="text"
          maxLength={2000}
          value={reason}
          onChange={(e) => setReason(e.target.value)}
          onKeyDown={(e) => {
            if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) void decide('approve');
          }}
        />
        <div className="buttons">
          <button type="button" className="approve" disabled={busy !== null} onClick={() => void decide('approve')}>
            {busy === 'approve' ? 'Approving…' : 'Approve'}
          </button>
          <button type="button" className="deny" disabled={busy !== null} onClick={() => void decide('deny')}>
            {busy === 'deny' ? 'Denying…' : 'Deny'}
          </button>
        </div>
        {!me.approver && <p className="help">You are not in an approver group ({me.approvers.join(', ') || 'none configured'}): the gateway will refuse your decision.</p>}
        {me.approver && own && <p className="help">You raised this request: someone else must decide it.</p>}
        {error && <p role="alert" className="error">{error}</p>}
      </div>
    </article>
  );
}

export function ApprovalsPage() {
  const q = useQueue();
  const pending = q.approvals.filter((a) => a.status === 'pending');
  const decided = q.approvals.filter((a) => a.status !== 'pending').sort((a, b) => ((a.decidedAt ?? '') < (b.decidedAt ?? '') ? 1 : -1));
  return (
    <>
      <div className="page-head">
        <h1 tabIndex={-1}>Approvals</h1>
        <p className={`live live-${q.live}`} role="status">
          {q.live === 'live' ? 'Live' : q.live === 'connecting' ? 'Connecting…' : 'Reconnecting…'}
        </p>
      </div>
      {q.error && <p className="error" role="alert">{q.error}</p>}
      <section aria-labelledby="pending-h">
        <h2 id="pending-h">Waiting for a decision <span className="count">({pending.length})</span></h2>
        {pending.length === 0
          ? <p className="empty">No statement is waiting. New requests appear here as agents make them.</p>
          : <div className="approval-list">{pending.map((a) => <PendingCard key={a.id} a={a} />)}</div>}
      </section>
      <section aria-labelledby="decided-h">
        <h2 id="decided-h">Decided</h2>
        {decided.length === 0
          ? <p className="empty">Nothing decided yet.</p>
          : (
            <div className="table-wrap" role="region" aria-labelledby="decided-h" tabIndex={0}>
              <table className="table decided stack">
                <thead>
                  <tr><th scope="col">Status</th><th scope="col">Statement</th><th scope="col">Requested by</th><th scope="col">Target</th><th scope="col">Decided by</th><th scope="col">When</th><th scope="col">Reason</th></tr>
                </thead>
                <tbody>
                  {decided.slice(0, 100).map((a) => (
                    <tr key={a.id} data-approval-id={a.id}>
                      <td data-label="Status"><span className={`status status-${a.status}`}>{STATUS_TEXT[a.status] ?? a.status}</span></td>
                      <td className="sql-cell" data-label="Statement"><Link to={`/sessions/${encodeURIComponent(a.sessionId)}`}><Sql sql={a.sql} inline /></Link></td>
                      <td data-label="Requested by">{a.identity.subject}</td>
                      <td data-label="Target">{a.target}</td>
                      <td data-label="Decided by">{a.decidedBy ?? '—'}</td>
                      <td data-label="When"><time dateTime={a.decidedAt ?? undefined}>{fmtTime(a.decidedAt)}</time></td>
                      <td data-label="Reason">{a.reason ?? ''}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
      </section>
    </>
  );
}
