// The audit chain's verify status; a broken chain is named down to its first bad event.
import { useCallback, useEffect, useState } from 'react';
import { request } from '../api.ts';
import { fmtTime, shortId } from '../format.ts';
import { Link } from '../router.tsx';
import type { VerifyResult } from '../types.ts';

export function IntegrityPage() {
  const [result, setResult] = useState<VerifyResult | null>(null);
  const [checkedAt, setCheckedAt] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const verify = useCallback(async () => {
    setBusy(true);
    setError(null);
    try {
      setResult(await request<VerifyResult>('/api/audit/verify'));
      setCheckedAt(new Date().toISOString());
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  }, []);

  useEffect(() => {
    void verify();
  }, [verify]);

  return (
    <>
      <div className="page-head">
        <h1 tabIndex={-1}>Integrity of the audit trail</h1>
        <button type="button" onClick={() => void verify()} disabled={busy}>{busy ? 'Verifying…' : 'Verify again'}</button>
      </div>
      {error && <p className="error" role="alert">{error}</p>}
      {busy && !result && <p role="status">Verifying every event's hash chain and the signed checkpoints…</p>}
      {result && (
        <>
          {result.ok
            ? (
              <p className="verdict ok" role="status">
                <strong>The audit trail verifies.</strong> Every event's hash chain, the per-session links and the signed checkpoints check out.
              </p>
            )
            : (
              <div className="verdict bad" role="alert">
                <p><strong>The audit trail does not verify.</strong></p>
                {result.firstBad
                  ? (
                    <p>
                      The first bad event is{' '}
                      <Link to={`/sessions/${encodeURIComponent(result.firstBad.sessionId)}?seq=${result.firstBad.seq}`}>
                        event #{result.firstBad.seq} of session {shortId(result.firstBad.sessionId)}
                      </Link>
                      {result.problem ? `: ${result.problem}` : '.'}
                    </p>
                  )
                  : result.problem && <p>{result.problem}</p>}
                <p>Records from there on cannot be trusted. Keep the store as it is and compare it with an export or a backup.</p>
              </div>
            )}
          <dl className="facts stats">
            <div><dt>Events</dt><dd>{result.events.toLocaleString('en')}</dd></div>
            {result.records !== undefined && <div><dt>Chain records</dt><dd>{result.records.toLocaleString('en')}</dd></div>}
            {result.checkpoints !== undefined && <div><dt>Signed checkpoints</dt><dd>{result.checkpoints.toLocaleString('en')}</dd></div>}
            {result.streams !== undefined && <div><dt>Writer instances</dt><dd>{result.streams}</dd></div>}
            {result.stubs !== undefined && <div><dt>Pruned (stubs)</dt><dd>{result.stubs.toLocaleString('en')}</dd></div>}
            {result.unanchored !== undefined && <div><dt>After the last checkpoint</dt><dd>{result.unanchored.toLocaleString('en')}</dd></div>}
            {checkedAt && <div><dt>Checked</dt><dd>{fmtTime(checkedAt)}</dd></div>}
          </dl>
          {!!result.unanchored && (
            <p className="help">Records after the last signed checkpoint are chained but not yet signed: removing them from the end would not be detected until the next checkpoint.</p>
          )}
        </>
      )}
    </>
  );
}
