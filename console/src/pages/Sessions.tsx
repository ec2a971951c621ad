import { useEffect, useState, type FormEvent } from 'react';
import { query, request } from '../api.ts';
import { fmtTime, isoToLocalInput, localInputToIso, shortId } from '../format.ts';
import { Link, navigate, useLocation } from '../router.tsx';
import { STATEMENT_KINDS, type Session } from '../types.ts';

const FILTERS = ['target', 'subject', 'since', 'until', 'hasDenied', 'hasApproval', 'kind'] as const;
type Filters = Partial<Record<(typeof FILTERS)[number], string>>;

function filtersOf(params: URLSearchParams): Filters {
  const f: Filters = {};
  for (const k of FILTERS) {
    const v = params.get(k);
    if (v) f[k] = v;
  }
  return f;
}

export function SessionsPage() {
  const loc = useLocation();
  const applied = filtersOf(loc.params);
  const before = loc.params.get('before') ?? undefined;
  const [form, setForm] = useState<Filters>(applied);
  const [data, setData] = useState<{ sessions: Session[]; next: string | null } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(false);
  const key = loc.params.toString();

  useEffect(() => setForm(filtersOf(new URLSearchParams(key))), [key]);

  useEffect(() => {
    const ctl = new AbortController();
    setLoading(true);
    setError(null);
    request<{ sessions: Session[]; next: string | null }>(`/api/sessions${query({ ...filtersOf(new URLSearchParams(key)), before: new URLSearchParams(key).get('before'), limit: 50 })}`, { signal: ctl.signal })
      .then((r) => setData(r))
      .catch((e: unknown) => {
        if ((e as Error).name !== 'AbortError') setError((e as Error).message);
      })
      .finally(() => setLoading(false));
    return () => ctl.abort();
  }, [key]);

  const submit = (e: FormEvent) => {
    e.preventDefault();
    navigate(`/sessions${query({ ...form })}`);
  };
  const set = (k: keyof Filters, v: string) => setForm((f) => ({ ...f, [k]: v || undefined }));

  return (
    <>
      <h1 tabIndex={-1}>Sessions</h1>
      <form className="filters card" onSubmit={submit} aria-label="Filter sessions">
        <div className="field">
          <label htmlFor="f-target">Target</label>
          <input id="f-target" value={form.target ?? ''} onChange={(e) => set('target', e.target.value)} />
        </div>
        <div className="field">
          <label htmlFor="f-subject">Identity</label>
          <input id="f-subject" value={form.subject ?? ''} onChange={(e) => set('subject', e.target.value)} placeholder="subject" />
        </div>
        <div className="field">
          <label htmlFor="f-since">Since (UTC)</label>
          <input id="f-since" type="datetime-local" value={isoToLocalInput(form.since ?? null)} onChange={(e) => set('since', localInputToIso(e.target.value) ?? '')} />
        </div>
        <div className="field">
          <label htmlFor="f-until">Until (UTC)</label>
          <input id="f-until" type="datetime-local" value={isoToLocalInput(form.until ?? null)} onChange={(e) => set('until', localInputToIso(e.target.value) ?? '')} />
        </div>
        <div className="field">
          <label htmlFor="f-denied">Denied statements</label>
          <select id="f-denied" value={form.hasDenied ?? ''} onChange={(e) => set('hasDenied', e.target.value)}>
            <option value="">any</option><option value="true">some</option><option value="false">none</option>
          </select>
        </div>
        <div className="field">
          <label htmlFor="f-approval">Approvals</label>
          <select id="f-approval" value={form.hasApproval ?? ''} onChange={(e) => set('hasApproval', e.target.value)}>
            <option value="">any</option><option value="true">some</option><option value="false">none</option>
          </select>
        </div>
        <div className="field">
          <label htmlFor="f-kind">Statement kind</label>
          <select id="f-kind" value={form.kind ?? ''} onChange={(e) => set('kind', e.target.value)}>
            <option value="">any</option>
            {STATEMENT_KINDS.map((k) => <option key={k} value={k}>{k}</option>)}
          </select>
        </div>
        <div className="field actions">
          <button type="submit" className="primary">Apply filters</button>
          <button type="button" className="ghost" onClick={() => navigate('/sessions')}>Clear</button>
        </div>
      </form>
      {error && <p className="error" role="alert">{error}</p>}
      <p className="sr-only" role="status">{loading ? 'Loading sessions' : data ? `${data.sessions.length} sessions shown` : ''}</p>
      {data && data.sessions.length === 0 && <p className="empty">No session matches.</p>}
      {data && data.sessions.length > 0 && (
        <div className="table-wrap" role="region" aria-label="Sessions" tabIndex={0}>
          <table className="table sessions stack">
            <thead>
              <tr>
                <th scope="col">Started (UTC)</th><th scope="col">Identity</th><th scope="col">Target</th><th scope="col">Client</th>
                <th scope="col">Statements</th><th scope="col">Denied</th><th scope="col">Approvals</th><th scope="col">Kinds</th><th scope="col">Ended</th>
              </tr>
            </thead>
            <tbody>
              {data.sessions.map((s) => (
                <tr key={s.id}>
                  <td data-label="Started"><Link to={`/sessions/${encodeURIComponent(s.id)}`} aria-label={`Session ${shortId(s.id)} of ${s.identity.subject}, ${fmtTime(s.startedAt)}`}>{fmtTime(s.startedAt)}</Link></td>
                  <td data-label="Identity">{s.identity.subject} <span className="muted">{s.identity.via === 'oidc' ? 'OIDC' : 'service account'}</span></td>
                  <td data-label="Target">{s.target}</td>
                  <td className="mono" data-label="Client">{s.client}</td>
                  <td className="num" data-label="Statements">{s.statements}</td>
                  <td className="num" data-label="Denied">{s.denied ? <span className="status status-denied">{s.denied}</span> : 0}</td>
                  <td className="num" data-label="Approvals">{s.approvals ?? 0}</td>
                  <td data-label="Kinds">{(s.kinds ?? []).join(', ')}</td>
                  <td data-label="Ended">{s.endedAt ? `${fmtTime(s.endedAt)}${s.endCause ? ` (${s.endCause})` : ''}` : <span className="status status-pending">open</span>}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <nav className="pager" aria-label="Pages">
        {before && <button type="button" className="ghost" onClick={() => window.history.back()}>Previous page</button>}
        {before && <button type="button" className="ghost" onClick={() => navigate(`/sessions${query({ ...applied })}`)}>Newest</button>}
        {data?.next && <button type="button" onClick={() => navigate(`/sessions${query({ ...applied, before: data.next })}`)}>Next page</button>}
      </nav>
    </>
  );
}
