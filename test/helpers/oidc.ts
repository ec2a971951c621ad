/**
 * A real OIDC issuer for tests: an HTTP server on 127.0.0.1 serving a discovery document and a JWKS, and a `sign`
 * that makes tokens it vouches for.
 *
 *   const idp = await startTestIssuer();
 *   // config:  identity: { oidc: [{ issuer: idp.issuer, audience: idp.audience }] }   (or idp.oidcConfig())
 *   const jwt = await idp.sign({ sub: 'agent-7', groups: ['agents'] });
 *   // mariadb --user=agent-7 --password=<jwt> ...
 *   await idp.close();
 *
 * Tokens are ES256 by default because they are short (about 300 bytes with the default claims): the gateway may
 * receive the password through caching_sha2_password's RSA exchange, which carries at most ~470 bytes with a
 * 4096-bit key. `sign(claims, { alg: 'RS256' })` makes an RS256 token (about 550 bytes with a 2048-bit key).
 *
 * Served routes: `/.well-known/openid-configuration` and `/jwks`, and for browser sign-in (the authorization code
 * flow with PKCE) `/authorize`, which signs in the person set by `loginAs` at once and redirects back with a code, and
 * `/token`, which exchanges that code for an ID token after checking the client id, the redirect URI and the PKCE
 * verifier (S256). `requests` records every path asked for, so a
 * test can count key fetches. `rotate()` replaces the keys (new kids), `setDown(true)` answers 503 to everything,
 * `setDelay(ms)` holds every answer back (for timeouts). `http://127.0.0.1` issuers are accepted by the config
 * validation because they are loopback.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type KeyObject } from 'jose';

export type TestAlg = 'ES256' | 'RS256';

export interface TestKey {
  kid: string;
  alg: TestAlg;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

/**
 * Claims of a test token. Every claim not given takes its default (iss: the issuer, aud: the audience,
 * sub: "agent-1", groups: ["agents"], iat: now, exp: now + 10 min); a claim given as `undefined` is left out.
 */
export interface TestClaims {
  iss?: string;
  aud?: string | string[];
  sub?: string;
  groups?: string[] | string;
  iat?: number;
  nbf?: number;
  exp?: number;
  [claim: string]: unknown;
}

export interface SignOptions {
  /** ES256 (default) or RS256: the issuer's current key of that type signs. */
  alg?: TestAlg;
  /** The kid written in the header; default the signing key's. */
  kid?: string;
  /** Leave the kid out of the header. */
  noKid?: boolean;
  /** Sign with this key instead (e.g. a foreign key, to forge a signature). */
  privateKey?: CryptoKey | KeyObject;
  /** Lifetime in seconds when `exp` is not given. Default 600. */
  expiresIn?: number;
  /** Extra protected header parameters. */
  header?: Record<string, unknown>;
}

export interface TestIssuer {
  /** `http://127.0.0.1:PORT` (plus `path` when given). */
  issuer: string;
  jwksUri: string;
  discoveryUri: string;
  /** The audience tokens carry by default. */
  audience: string;
  /** Paths requested so far, in order (e.g. "/jwks"). */
  requests: string[];
  /** The keys served now (current ES256 and RS256, plus old ones kept by `rotate({ keepOld: true })`). */
  keys(): TestKey[];
  /** The current key of an algorithm. */
  currentKey(alg?: TestAlg): TestKey;
  sign(claims?: TestClaims, opts?: SignOptions): Promise<string>;
  /** New current keys with new kids; the old ones are dropped from the JWKS unless `keepOld`. Returns the new ES256 kid. */
  rotate(opts?: { keepOld?: boolean }): Promise<string>;
  /** While down, every request is answered 503. */
  setDown(down: boolean): void;
  /** Holds every answer back by this many ms (0: none). */
  setDelay(ms: number): void;
  /** An `identity.oidc[]` entry for a config (YAML-shaped), pointing at this issuer. */
  oidcConfig(extra?: Record<string, unknown>): Record<string, unknown>;
  /** Who `/authorize` signs in (claims of the ID token; `sub` and `groups` at least), or null to answer `access_denied`. */
  loginAs(claims: TestClaims | null): void;
  /** Token requests refused so far, with the reason (wrong verifier, reused code…). */
  tokenRefusals: string[];
  close(): Promise<void>;
}

export interface StartOptions {
  /** Default "agentgate". */
  audience?: string;
  /** A path under the host for the issuer, e.g. "/realms/test" (Keycloak style). Default none. */
  path?: string;
  /** RSA modulus size for RS256 keys. Default 2048. */
  rsaBits?: number;
}

export async function startTestIssuer(opts: StartOptions = {}): Promise<TestIssuer> {
  const audience = opts.audience ?? 'agentgate';
  const prefix = (opts.path ?? '').replace(/\/+$/, '');
  let generation = 0;
  let down = false;
  let delay = 0;
  const requests: string[] = [];
  const tokenRefusals: string[] = [];
  let user: TestClaims | null = null;
  /** Codes handed out by /authorize, each usable once. */
  const codes = new Map<string, { clientId: string; redirectUri: string; challenge: string; nonce?: string; claims: TestClaims }>();
  // Set once the signing function exists (below).
  let signToken: (claims: TestClaims) => Promise<string> = async () => '';

  const makeKey = async (alg: TestAlg, gen: number): Promise<TestKey> => {
    const { privateKey, publicKey } = await generateKeyPair(alg, { modulusLength: opts.rsaBits ?? 2048 });
    const kid = `${alg === 'ES256' ? 'es' : 'rs'}-${gen}`;
    return { kid, alg, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
  };
  const newGeneration = async () => {
    generation++;
    return { ES256: await makeKey('ES256', generation), RS256: await makeKey('RS256', generation) };
  };
  let current = await newGeneration();
  let served: TestKey[] = [current.ES256, current.RS256];

  let base = '';
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    requests.push(url.pathname);
    const answer = () => {
      if (down) {
        res.writeHead(503, { 'content-type': 'text/plain' }).end('down for the test');
        return;
      }
      let body: unknown;
      if (url.pathname === `${prefix}/authorize`) {
        authorize(url, res);
        return;
      }
      if (url.pathname === `${prefix}/token` && req.method === 'POST') {
        void token(req, res);
        return;
      }
      if (url.pathname === `${prefix}/.well-known/openid-configuration`) {
        body = {
          issuer: `${base}${prefix}`,
          jwks_uri: `${base}${prefix}/jwks`,
          authorization_endpoint: `${base}${prefix}/authorize`,
          token_endpoint: `${base}${prefix}/token`,
          code_challenge_methods_supported: ['S256'],
          id_token_signing_alg_values_supported: ['ES256', 'RS256'],
          response_types_supported: ['id_token'],
          subject_types_supported: ['public'],
        };
      } else if (url.pathname === `${prefix}/jwks`) {
        body = { keys: served.map((k) => k.publicJwk) };
      } else {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    if (delay > 0) setTimeout(answer, delay);
    else answer();
  });

  /** Signs in `user` without asking anything and sends the browser back with a one-time code. */
  function authorize(url: URL, res: ServerResponse): void {
    const q = url.searchParams;
    const redirectUri = q.get('redirect_uri');
    const clientId = q.get('client_id');
    if (!redirectUri || !clientId || q.get('response_type') !== 'code') {
      res.writeHead(400, { 'content-type': 'text/plain' }).end('redirect_uri, client_id and response_type=code are required');
      return;
    }
    const back = new URL(redirectUri);
    if (q.get('state')) back.searchParams.set('state', q.get('state')!);
    const challenge = q.get('code_challenge');
    if (!user) back.searchParams.set('error', 'access_denied');
    else if (!challenge || q.get('code_challenge_method') !== 'S256') back.searchParams.set('error', 'invalid_request');
    else {
      const code = randomBytes(16).toString('base64url');
      codes.set(code, { clientId, redirectUri, challenge, ...(q.get('nonce') ? { nonce: q.get('nonce')! } : {}), claims: { ...user } });
      back.searchParams.set('code', code);
    }
    res.writeHead(302, { location: back.toString() }).end();
  }

  async function token(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let raw = '';
    for await (const chunk of req) raw += String(chunk);
    const f = new URLSearchParams(raw);
    const refuse = (why: string) => {
      tokenRefusals.push(why);
      res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'invalid_grant', error_description: why }));
    };
    const code = f.get('code') ?? '';
    const grant = codes.get(code);
    codes.delete(code);
    if (f.get('grant_type') !== 'authorization_code') return refuse('grant_type is not authorization_code');
    if (!grant) return refuse('unknown or used code');
    if (f.get('client_id') !== grant.clientId) return refuse('client_id differs');
    if (f.get('redirect_uri') !== grant.redirectUri) return refuse('redirect_uri differs');
    const verifier = f.get('code_verifier') ?? '';
    if (createHash('sha256').update(verifier).digest('base64url') !== grant.challenge) return refuse('code_verifier does not match the challenge');
    const idToken = await signToken({ ...grant.claims, aud: grant.clientId, ...(grant.nonce ? { nonce: grant.nonce } : {}) });
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' })
      .end(JSON.stringify({ access_token: randomBytes(16).toString('base64url'), token_type: 'Bearer', expires_in: 600, id_token: idToken }));
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const issuer = `${base}${prefix}`;

  const api: TestIssuer = {
    issuer,
    jwksUri: `${issuer}/jwks`,
    discoveryUri: `${issuer}/.well-known/openid-configuration`,
    audience,
    requests,
    keys: () => [...served],
    currentKey: (alg = 'ES256') => current[alg],

    async sign(claims = {}, o = {}) {
      const alg = o.alg ?? 'ES256';
      const key = current[alg];
      const now = Math.floor(Date.now() / 1000);
      const all: Record<string, unknown> = {
        iss: issuer, aud: audience, sub: 'agent-1', groups: ['agents'], iat: now, exp: now + (o.expiresIn ?? 600), ...claims,
      };
      for (const k of Object.keys(all)) if (all[k] === undefined) delete all[k];
      const header: Record<string, unknown> = { alg, ...(o.noKid ? {} : { kid: o.kid ?? key.kid }), ...o.header };
      // SignJWT would set iat/exp itself only when asked; the claims above are passed through exactly as given.
      return new SignJWT(all).setProtectedHeader(header as { alg: string }).sign(o.privateKey ?? key.privateKey);
    },

    async rotate(o = {}) {
      const old = served;
      current = await newGeneration();
      served = [current.ES256, current.RS256, ...(o.keepOld ? old : [])];
      return current.ES256.kid;
    },

    setDown(d) {
      down = d;
    },

    setDelay(ms) {
      delay = ms;
    },

    oidcConfig: (extra = {}) => ({ issuer, audience, ...extra }),

    loginAs(claims) {
      user = claims;
    },

    tokenRefusals,

    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
  signToken = (claims) => api.sign(claims);
  return api;
}
