// Who saw this value, or this column: hits over the recorded results, each linking to the exact event.
import { useEffect, useState, type FormEvent } from 'react';
import { query, request } from '../api.ts';
import { fmtTime, shortId } from '../format.ts';
import { Link, navigate, useLocation } from '../router.tsx';
import type { SearchHit, Session } from '../types.ts';

type Mode = 'value' | 'column';

export function SearchPage() {
  const loc = useLocation();
  const urlMode: Mode = loc.params.has('column') ? 'column' : 'value';
  const urlText = loc.params.get(urlMode) ?? '';
  const urlSubstring = loc.params.get('substring') === 'true';
  const [mode, setMode] = useState<Mode>(urlMode);
  const [text, setText] = useState(urlText);
  const [substring, setSubstring] = useState(urlSubstring);
  const [hits, setHits] = useState<SearchHit[] | null>(null);
  const [sessions, setSessions] = useState<Map<string, Session>>(new Map());
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(false);
  const key = loc.params.toString();

  useEffect(() => {
    setMode(urlMode);
    setText(urlText);
    setSubstring(urlSubstring);
    if (!urlText) {
      setHits(null);
      return;
    }
    const ctl = new AbortController();
    setLoading(true);
    setError(null);
    const q = urlMode === 'value' ? { value: urlText, substring: urlSubstring ? 'true' : undefined } : { column: urlText };
    request<{ hits: SearchHit[] }>(`/api/audit/search${query({ ...q, limit: 500 })}`, { signal: ctl.signal })
      .then(async (r) => {
        setHits(r.hits);
        // Who: the sessions behind the hits, from the newest listing (one request, not one per session).
        if (r.hits.length) {
          const list = await request<{ sessions: Session[] }>('/api/sessions?limit=1000', { signal: ctl.signal });
          setSessions(new Map(list.sessions.map((s) => [s.id, s])));
        }
      })
      .catch((e: unknown) => {
        if ((e as Error).name !== 'AbortError') {
          setHits(null);
          setError((e as Error).message);
        }
      })
      .finally(() => setLoading(false));
    return () => ctl.abort();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key]);

  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (!text.trim()) {
      setError(mode === 'value' ? 'Enter a value to look for.' : 'Enter a column as db.table.column (* for any part).');
      return;
    }
    navigate(`/search${query(mode === 'value' ? { value: text, substring: substring ? 'true' : undefined } : { column: text.trim() })}`);
  };

  return (
    <>
      <h1 tabIndex={-1}>Search: who saw what</h1>
      <form className="card search-form" onSubmit={submit} aria-label="Search recorded results">
        <fieldset>
          <legend>Look for</legend>
          <label className="inline"><input type="radio" name="mode" value="value" checked={mode === 'value'} onChange={() => setMode('value')} /> a value</label>
          <label className="inline"><input type="radio" name="mode" value="column" checked={mode === 'column'} onChange={() => setMode('column')} /> a column</label>
        </fieldset>
        <div className="field grow">
          <label htmlFor="q">{mode === 'value' ? 'Value (as the agent received it)' : 'Column (db.table.column, * for any part)'}</label>
          <input id="q" type="search" value={text} onChange={(e) => setText(e.target.value)} placeholder={mode === 'value' ? 'e.g. bob@example.com' : 'e.g. shop.customers.email'} spellCheck={false} />
        </div>
        {mode === 'value' && (
          <label className="inline"><input type="checkbox" checked={substring} onChange={(e) => setSubstring(e.target.checked)} /> cells containing it</label>
        )}
        <button type="submit" className="primary">Search</button>
      </form>
      <p className="help">Masked cells were recorded masked: a masked value searched in clear is not found.</p>
      {error && <p className="error" role="alert">{error}</p>}
      <p className="sr-only" role="status">{loading ? 'Searching' : hits ? `${hits.length} results` : ''}</p>
      {hits && hits.length === 0 && <p className="empty">Nobody received that {urlMode} in a recorded result.</p>}
      {hits && hits.length > 0 && (
        <div className="table-wrap" role="region" aria-label="Search results" tabIndex={0}>
          <table className="table hits stack">
            <caption className="sr-only">Events whose results held the {urlMode}</caption>
            <thead>
              <tr><th scope="col">Event</th><th scope="col">Identity</th><th scope="col">Target</th><th scope="col">Session started</th><th scope="col">Column</th></tr>
            </thead>
            <tbody>
              {hits.map((h) => {
                const s = sessions.get(h.sessionId);
                return (
                  <tr key={`${h.sessionId}-${h.seq}-${h.column}`}>
                    <td data-label="Event">
                      <Link to={`/sessions/${encodeURIComponent(h.sessionId)}?seq=${h.seq}`} className="hit-link">
                        Session {shortId(h.sessionId)}, event #{h.seq}
                      </Link>
                    </td>
                    <td data-label="Identity">{s ? s.identity.subject : '—'}</td>
                    <td data-label="Target">{s ? s.target : '—'}</td>
                    <td data-label="Session started">{s ? fmtTime(s.startedAt) : '—'}</td>
                    <td className="mono" data-label="Column">{h.column}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}
