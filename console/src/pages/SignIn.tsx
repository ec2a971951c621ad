import { useEffect, useState, type FormEvent } from 'react';
import { ApiError, request } from '../api.ts';
import { startOidcSignIn } from '../oidc.ts';
import type { ConsoleConfig } from '../types.ts';

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}

export function SignInPage({ notice, onSignIn }: { notice: string | null; onSignIn(token: string): Promise<void> }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [config, setConfig] = useState<ConsoleConfig | null>(null);

  useEffect(() => {
    request<ConsoleConfig>('/api/console/config', { token: null, quiet401: true })
      .then(setConfig)
      .catch(() => setConfig({ oidc: null }));
  }, []);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const t = token.trim();
    if (!t) {
      setError('Enter your admin token.');
      return;
    }
    setBusy(true);
    setError(null);
    try {
      await onSignIn(t);
    } catch (err) {
      setError(err instanceof ApiError && err.status === 401 ? `That token was refused: ${err.message}.` : (err as Error).message);
    } finally {
      setBusy(false);
    }
  };

  const oidc = config?.oidc;
  const returnTo = window.location.pathname + window.location.search;
  const oidcSignIn = async () => {
    setError(null);
    try {
      await startOidcSignIn(oidc!, returnTo === '/' ? '/approvals' : returnTo);
    } catch (err) {
      setError((err as Error).message);
    }
  };

  return (
    <main id="main" className="signin">
      <h1 tabIndex={-1}>Sign in to agentgate</h1>
      {notice && <p className="notice" role="status">{notice}</p>}
      {oidc && (
        <section aria-labelledby="oidc-h" className="card">
          <h2 id="oidc-h">With your organisation's account</h2>
          {oidc.authorizationEndpoint
            ? <button type="button" className="primary" onClick={() => void oidcSignIn()}>Sign in with {hostOf(oidc.issuer)}</button>
            : <p className="error">{oidc.problem ?? 'OIDC sign-in is unavailable.'}</p>}
        </section>
      )}
      <form className="card" onSubmit={(e) => void submit(e)} aria-labelledby="token-h">
        <h2 id="token-h">With an admin token</h2>
        <label htmlFor="token">Admin token</label>
        <input
          id="token"
          name="token"
          type="password"
          autoComplete="off"
          spellCheck={false}
          value={token}
          onChange={(e) => setToken(e.target.value)}
          aria-describedby="token-help"
          aria-invalid={error ? true : undefined}
        />
        <p id="token-help" className="help">
          The token of an entry of <code>identity.admins</code>. It is kept in this tab only, until you sign out or close it.
        </p>
        {error && <p role="alert" className="error">{error}</p>}
        <button type="submit" className="primary" disabled={busy}>{busy ? 'Signing in…' : 'Sign in'}</button>
      </form>
    </main>
  );
}
