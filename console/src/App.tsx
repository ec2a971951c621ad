// The shell: sign-in gate, header with the navigation, the live approval queue (kept open on every page so the
// badge stays current), and the page for the address.
import { createContext, useCallback, useContext, useEffect, useRef, useState } from 'react';
import { ApiError, onUnauthorized, request, storeToken, storedToken } from './api.ts';
import { CALLBACK_PATH, finishOidcSignIn } from './oidc.ts';
import { useApprovalQueue, type Queue } from './queue.ts';
import { Link, navigate, useLocation } from './router.tsx';
import { useTheme } from './theme.ts';
import type { Me } from './types.ts';
import { ApprovalsPage } from './pages/Approvals.tsx';
import { IntegrityPage } from './pages/Integrity.tsx';
import { SearchPage } from './pages/Search.tsx';
import { SessionPage } from './pages/Session.tsx';
import { SessionsPage } from './pages/Sessions.tsx';
import { SignInPage } from './pages/SignIn.tsx';

export const MeContext = createContext<Me | null>(null);
export const QueueContext = createContext<Queue | null>(null);

export function useMe(): Me {
  const me = useContext(MeContext);
  if (!me) throw new Error('not signed in');
  return me;
}

export function useQueue(): Queue {
  const q = useContext(QueueContext);
  if (!q) throw new Error('no approval queue');
  return q;
}

const NAV = [
  { to: '/approvals', label: 'Approvals' },
  { to: '/sessions', label: 'Sessions' },
  { to: '/search', label: 'Search' },
  { to: '/integrity', label: 'Integrity' },
];

function OidcCallback({ onToken }: { onToken(token: string, returnTo: string): void }) {
  const loc = useLocation();
  const [error, setError] = useState<string | null>(null);
  const started = useRef(false);
  useEffect(() => {
    if (started.current) return;
    started.current = true;
    finishOidcSignIn(loc.params)
      .then((r) => onToken(r.token, r.returnTo))
      .catch((e: unknown) => setError(e instanceof Error ? e.message : String(e)));
  }, [loc.params, onToken]);
  return (
    <main id="main" className="signin">
      <h1>Signing in…</h1>
      {error
        ? (
          <>
            <p role="alert" className="error">{error}</p>
            <p><a href="/">Back to the sign-in page</a></p>
          </>
        )
        : <p role="status">Checking the answer of the identity provider.</p>}
    </main>
  );
}

export function App() {
  const loc = useLocation();
  const [theme, nextTheme] = useTheme();
  const [me, setMe] = useState<Me | null>(null);
  const [checking, setChecking] = useState(() => storedToken() !== null);
  const [notice, setNotice] = useState<string | null>(null);

  const signOut = useCallback((why: string | null) => {
    storeToken(null);
    setMe(null);
    setNotice(why);
  }, []);

  useEffect(() => onUnauthorized((why) => signOut(`Your sign-in is no longer valid (${why}). Sign in again.`)), [signOut]);

  const signIn = useCallback(async (token: string): Promise<void> => {
    const who = await request<Me>('/api/console/me', { token, quiet401: true });
    storeToken(token);
    setNotice(null);
    setMe(who);
  }, []);

  // A token kept from earlier in this tab: check it once.
  useEffect(() => {
    const t = storedToken();
    if (!t || me) return;
    signIn(t)
      .catch((e: unknown) => {
        storeToken(null);
        if (e instanceof ApiError && e.status === 401) setNotice('Your sign-in has ended. Sign in again.');
        else setNotice(e instanceof Error ? e.message : String(e));
      })
      .finally(() => setChecking(false));
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  const queue = useApprovalQueue(me !== null);

  // Focus the page's heading after a navigation, so keyboard and screen reader users start at the new content.
  const firstRender = useRef(true);
  useEffect(() => {
    if (firstRender.current) {
      firstRender.current = false;
      return;
    }
    const h = document.querySelector<HTMLElement>('main h1');
    h?.focus({ preventScroll: false });
  }, [loc.path]);

  const onOidcToken = useCallback((token: string, returnTo: string) => {
    signIn(token)
      .then(() => navigate(returnTo.startsWith('/') && !returnTo.startsWith('//') ? returnTo : '/approvals', { replace: true }))
      .catch((e: unknown) => setNotice(e instanceof Error ? e.message : String(e)));
  }, [signIn]);

  if (loc.path === CALLBACK_PATH && !me) return <OidcCallback onToken={onOidcToken} />;
  if (checking && !me) return <main id="main" className="signin"><p role="status">Loading…</p></main>;
  if (!me) return <SignInPage notice={notice} onSignIn={signIn} />;

  const pending = queue.approvals.filter((a) => a.status === 'pending').length;
  const path = loc.path === '/' || loc.path === CALLBACK_PATH ? '/approvals' : loc.path;
  let page;
  const sessionMatch = /^\/sessions\/([^/]+)$/.exec(path);
  if (path === '/approvals') page = <ApprovalsPage />;
  else if (path === '/sessions') page = <SessionsPage />;
  else if (sessionMatch) page = <SessionPage id={decodeURIComponent(sessionMatch[1]!)} />;
  else if (path === '/search') page = <SearchPage />;
  else if (path === '/integrity') page = <IntegrityPage />;
  else {
    page = (
      <>
        <h1 tabIndex={-1}>Page not found</h1>
        <p>Nothing lives at <code>{path}</code>. <Link to="/approvals">Go to the approvals</Link>.</p>
      </>
    );
  }

  return (
    <MeContext.Provider value={me}>
      <QueueContext.Provider value={queue}>
        <a className="skip" href="#main">Skip to content</a>
        <header className="top">
          <Link to="/approvals" className="brand" aria-label="agentgate console, home">agentgate</Link>
          <nav aria-label="Main">
            <ul>
              {NAV.map((n) => {
                const active = path === n.to || path.startsWith(`${n.to}/`);
                return (
                  <li key={n.to}>
                    <Link to={n.to} aria-current={active ? 'page' : undefined}>
                      {n.label}
                      {n.to === '/approvals' && pending > 0 && (
                        <span className="badge" aria-label={`${pending} pending`}>{pending}</span>
                      )}
                    </Link>
                  </li>
                );
              })}
            </ul>
          </nav>
          <div className="who">
            <button type="button" className="ghost" onClick={nextTheme} aria-label={`Theme: ${theme}. Change theme`} title="Change theme">
              {theme === 'system' ? 'Auto' : theme === 'light' ? 'Light' : 'Dark'}
            </button>
            <span className="me" title={me.groups.join(', ')}>{me.name}</span>
            <button type="button" className="ghost" onClick={() => signOut(null)}>Sign out</button>
          </div>
        </header>
        <div className="sr-only" aria-live="polite">{queue.announcement}</div>
        <main id="main" className="page">{page}</main>
      </QueueContext.Provider>
    </MeContext.Provider>
  );
}
