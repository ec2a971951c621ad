// OIDC sign-in: the authorization code flow with PKCE (RFC 7636, S256). The browser makes the verifier, the
// challenge, the state and the nonce; the gateway exchanges the code at the issuer and checks the ID token.
import { request } from './api.ts';
import type { ConsoleConfig } from './types.ts';

const PENDING_KEY = 'agentgate.oidc';
export const CALLBACK_PATH = '/oidc/callback';

interface Pending {
  state: string;
  nonce: string;
  verifier: string;
  returnTo: string;
  redirectUri: string;
}

function base64url(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function random(n: number): string {
  return base64url(crypto.getRandomValues(new Uint8Array(n)));
}

export async function startOidcSignIn(cfg: NonNullable<ConsoleConfig['oidc']>, returnTo: string): Promise<void> {
  if (!cfg.authorizationEndpoint) throw new Error(cfg.problem ?? 'OIDC sign-in is unavailable');
  if (!crypto.subtle) throw new Error('OIDC sign-in needs the console on https (or on localhost): the browser hides its crypto API elsewhere');
  const verifier = random(32);
  const challenge = base64url(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier))));
  const pending: Pending = {
    state: random(16), nonce: random(16), verifier, returnTo, redirectUri: `${window.location.origin}${CALLBACK_PATH}`,
  };
  sessionStorage.setItem(PENDING_KEY, JSON.stringify(pending));
  const u = new URL(cfg.authorizationEndpoint);
  u.searchParams.set('response_type', 'code');
  u.searchParams.set('client_id', cfg.clientId);
  u.searchParams.set('redirect_uri', pending.redirectUri);
  u.searchParams.set('scope', cfg.scopes.join(' '));
  u.searchParams.set('state', pending.state);
  u.searchParams.set('nonce', pending.nonce);
  u.searchParams.set('code_challenge', challenge);
  u.searchParams.set('code_challenge_method', 'S256');
  window.location.assign(u.toString());
}

export interface OidcResult {
  token: string;
  name: string;
  returnTo: string;
}

/** The callback: checks the state, has the gateway exchange the code, and returns the ID token to use as bearer. */
export async function finishOidcSignIn(params: URLSearchParams): Promise<OidcResult> {
  const raw = sessionStorage.getItem(PENDING_KEY);
  sessionStorage.removeItem(PENDING_KEY);
  if (params.get('error')) {
    throw new Error(`the identity provider refused the sign-in: ${params.get('error_description') ?? params.get('error')}`);
  }
  if (!raw) throw new Error('no sign-in was started in this tab (or it was already finished): start again');
  const pending = JSON.parse(raw) as Pending;
  const code = params.get('code');
  if (!code) throw new Error('the identity provider sent no authorization code');
  if (params.get('state') !== pending.state) throw new Error('the sign-in answer does not match the sign-in this tab started (state)');
  const r = await request<{ token: string; name: string }>('/api/console/oidc/token', {
    method: 'POST', token: null, quiet401: true,
    body: { code, codeVerifier: pending.verifier, redirectUri: pending.redirectUri, nonce: pending.nonce },
  });
  return { token: r.token, name: r.name, returnTo: pending.returnTo };
}
