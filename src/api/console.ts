// The web console: the static single-page app built into console/dist, served at `/` of the API address, plus the
// few routes it needs besides the API itself: its configuration (which sign-in methods exist), the OIDC code
// exchange, and who the signed-in admin is.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { ApiOidcConfig } from '../config/types.ts';
import { isLoopbackHost } from '../config/check.ts';
import type { ApiDeps } from './index.ts';
import { adminOf, type AdminJwtCheck } from './auth.ts';
import { badRequest, HttpError } from './errors.ts';
import { checkKnown, type Query } from './query.ts';

/** Where `npm ci` (the `prepare` script) builds the console. */
export const CONSOLE_DIST = fileURLToPath(new URL('../../console/dist/', import.meta.url));

export interface ConsoleOptions {
  /** The built console; default console/dist of this checkout. */
  distDir?: string;
  /** Checks ID tokens of `api.oidc` (shared with the bearer hook, so both use one key cache). */
  jwtAdmin?: AdminJwtCheck;
  /** For tests; defaults to the global fetch. */
  fetch?: typeof fetch;
}

const NOT_BUILT = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>agentgate console not built</title></head>
<body><h1>The agentgate console is not built</h1>
<p>The gateway serves the console from console/dist, which is missing. Run <code>npm ci</code> (or <code>npm run build:console</code>)
in the agentgate checkout, then restart the gateway. The HTTP API under /api works without it.</p></body></html>
`;

/** Every file of the build, by URL path: only these are ever served (no path from a request reaches the file system). */
function listFiles(dir: string): Set<string> {
  const out = new Set<string>();
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const full = join(d, name);
      if (statSync(full).isDirectory()) walk(full);
      else out.add(`/${relative(dir, full).split(sep).join('/')}`);
    }
  };
  walk(dir);
  return out;
}

function origin(url: string): string | null {
  try {
    return new URL(url).origin;
  } catch {
    return null;
  }
}

/**
 * The console's pages may talk to this origin only; nothing is loaded from elsewhere, no page may frame them, and no
 * referrer leaves them (the OIDC callback's address holds the one-time code).
 */
const CSP = [
  "default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:", "connect-src 'self'",
  "font-src 'self'", "object-src 'none'", "base-uri 'none'", "form-action 'self'", "frame-ancestors 'none'",
].join('; ');

function pageHeaders(reply: FastifyReply): void {
  reply.header('content-security-policy', CSP);
  reply.header('x-content-type-options', 'nosniff');
  reply.header('referrer-policy', 'no-referrer');
  reply.header('x-frame-options', 'DENY');
}

interface Discovered {
  authorizationEndpoint: string;
  tokenEndpoint: string;
}

/** An endpoint named by the discovery document: https, or http on a loopback host (as the config allows for issuers). */
function endpoint(v: unknown, what: string): string {
  if (typeof v !== 'string') throw new Error(`the discovery document has no ${what}`);
  const u = new URL(v);
  if (u.protocol !== 'https:' && !(u.protocol === 'http:' && isLoopbackHost(u.hostname))) {
    throw new Error(`the discovery document's ${what} is not an https URL`);
  }
  return v;
}

/** The issuer's authorization and token endpoints, from OIDC discovery; kept an hour, a failure retried after 30 s. */
function discovery(cfg: ApiOidcConfig, fetchFn: typeof fetch) {
  let cached: { at: number; value?: Discovered; error?: string } | undefined;
  return async (): Promise<Discovered> => {
    const now = Date.now();
    if (cached && (cached.value ? now - cached.at < 3_600_000 : now - cached.at < 30_000)) {
      if (cached.value) return cached.value;
      throw new Error(cached.error);
    }
    try {
      const res = await fetchFn(`${cfg.issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`, {
        signal: AbortSignal.timeout(5_000), headers: { accept: 'application/json' },
      });
      if (!res.ok) throw new Error(`the issuer's discovery document answered HTTP ${res.status}`);
      const doc = (await res.json()) as Record<string, unknown>;
      const value = {
        authorizationEndpoint: endpoint(doc.authorization_endpoint, 'authorization_endpoint'),
        tokenEndpoint: endpoint(doc.token_endpoint, 'token_endpoint'),
      };
      cached = { at: now, value };
      return value;
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      cached = { at: now, error };
      throw new Error(error);
    }
  };
}

function stringField(o: Record<string, unknown>, k: string, max: number): string {
  const v = o[k];
  if (typeof v !== 'string' || v === '') throw badRequest(`"${k}" must be a non-empty string`);
  if (v.length > max) throw badRequest(`"${k}" is longer than ${max} characters`);
  return v;
}

/**
 * Served from the root context, outside the bearer hook: the console's files with a fallback to index.html for
 * the app's own paths, `GET /api/console/config`, and `POST /api/console/oidc/token`.
 */
export function consoleRoutes(deps: ApiDeps, opts: ConsoleOptions = {}) {
  const dist = opts.distDir ?? CONSOLE_DIST;
  const oidc = deps.config.api.oidc;
  const fetchFn = opts.fetch ?? fetch;
  const discover = oidc ? discovery(oidc, fetchFn) : undefined;

  return async function consolePlugin(app: FastifyInstance): Promise<void> {
    app.get('/api/console/config', async (req, reply) => {
      checkKnown(req.query as Query, []);
      reply.header('cache-control', 'no-store');
      if (!oidc || !discover) return { oidc: null };
      const base = { issuer: oidc.issuer, clientId: oidc.clientId, scopes: oidc.scopes };
      try {
        const d = await discover();
        return { oidc: { ...base, authorizationEndpoint: d.authorizationEndpoint } };
      } catch (err) {
        return { oidc: { ...base, authorizationEndpoint: null, problem: `OIDC sign-in is unavailable: ${(err as Error).message}` } };
      }
    });

    // The code exchange happens here rather than in the browser: the issuer needs no CORS rules for the console,
    // the page talks to its own origin only, and the ID token is checked (admin groups, nonce) before it is handed over.
    app.post('/api/console/oidc/token', async (req, reply) => {
      checkKnown(req.query as Query, []);
      reply.header('cache-control', 'no-store');
      if (!oidc || !discover || !opts.jwtAdmin) throw new HttpError('NOT_FOUND', 'OIDC sign-in is not configured (api.oidc)');
      const body = req.body;
      if (!body || typeof body !== 'object' || Array.isArray(body)) throw badRequest('the body must be a JSON object');
      const o = body as Record<string, unknown>;
      for (const k of Object.keys(o)) {
        if (!['code', 'codeVerifier', 'redirectUri', 'nonce'].includes(k)) throw badRequest(`unknown field "${k}" in the body`);
      }
      const code = stringField(o, 'code', 4096);
      const codeVerifier = stringField(o, 'codeVerifier', 128);
      const redirectUri = stringField(o, 'redirectUri', 2048);
      const nonce = stringField(o, 'nonce', 256);
      if (!/^[A-Za-z0-9._~-]{43,128}$/.test(codeVerifier)) throw badRequest('"codeVerifier" is not a PKCE code verifier (RFC 7636)');
      if (origin(redirectUri) === null) throw badRequest('"redirectUri" is not a URL');

      let d: Discovered;
      try {
        d = await discover();
      } catch (err) {
        throw new HttpError('UNAUTHORIZED', `OIDC sign-in is unavailable: ${(err as Error).message}`);
      }
      let answer: Record<string, unknown>;
      let status: number;
      try {
        const res = await fetchFn(d.tokenEndpoint, {
          method: 'POST',
          signal: AbortSignal.timeout(10_000),
          headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
          body: new URLSearchParams({
            grant_type: 'authorization_code', code, redirect_uri: redirectUri, client_id: oidc.clientId, code_verifier: codeVerifier,
          }).toString(),
        });
        status = res.status;
        answer = (await res.json().catch(() => ({}))) as Record<string, unknown>;
      } catch (err) {
        throw new HttpError('UNAUTHORIZED', `the issuer's token endpoint could not be reached: ${(err as Error).message}`);
      }
      if (status !== 200 || typeof answer.id_token !== 'string') {
        const why = typeof answer.error === 'string' ? answer.error.slice(0, 100) : `HTTP ${status}`;
        throw new HttpError('UNAUTHORIZED', `the issuer refused the sign-in (${why})`);
      }
      const token = answer.id_token;
      const r = await opts.jwtAdmin(token);
      if ('problem' in r) throw new HttpError('UNAUTHORIZED', r.problem);
      const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
      // The nonce ties the token to the sign-in this browser started: a replayed token is refused.
      if (claims.nonce !== nonce) throw new HttpError('UNAUTHORIZED', 'the ID token does not carry the nonce of this sign-in');
      return { token, name: r.name, groups: r.groups, expiresAt: new Date(Number(claims.exp) * 1000).toISOString() };
    });

    const files = existsSync(join(dist, 'index.html')) ? listFiles(dist) : null;
    if (files) await app.register(fastifyStatic, { root: dist, serve: false });

    const page = async (path: string, reply: FastifyReply) => {
      pageHeaders(reply);
      if (!files) return reply.code(404).type('text/html; charset=utf-8').header('cache-control', 'no-store').send(NOT_BUILT);
      if (files.has(path) && path !== '/index.html') {
        // Hashed names never change content: cached for good. Anything else is checked again on every use.
        const immutable = path.startsWith('/assets/');
        reply.header('cache-control', immutable ? 'public, max-age=31536000, immutable' : 'no-cache');
        return reply.sendFile(path.slice(1), { cacheControl: false });
      }
      return reply.header('cache-control', 'no-cache').sendFile('index.html', { cacheControl: false });
    };

    app.get('/', async (_req, reply) => page('/', reply));
    app.get('/*', async (req, reply) => {
      const raw = req.url.split('?')[0] ?? '/';
      // The API, health and metrics keep their own JSON 404; a missing asset is a 404 too, not the app.
      if (raw === '/api' || raw.startsWith('/api/') || raw === '/healthz' || raw === '/metrics' || raw.startsWith('/assets/')) {
        let path = raw;
        try {
          path = decodeURIComponent(raw);
        } catch {
          // left as it is: it will not match a file
        }
        if (path.startsWith('/assets/') && files?.has(path)) return page(path, reply);
        return reply.callNotFound();
      }
      let path: string;
      try {
        path = decodeURIComponent(raw);
      } catch {
        path = '/';
      }
      return page(path, reply);
    });
  };
}

/** Inside the /api context (behind the bearer hook): who the signed-in admin is, and whether they may decide approvals. */
export function consoleApiRoutes(deps: ApiDeps) {
  return async function consoleApi(app: FastifyInstance): Promise<void> {
    app.get('/console/me', async (req) => {
      checkKnown(req.query as Query, []);
      const admin = adminOf(req);
      const approvers = deps.config.approvals.approvers;
      return { name: admin.name, groups: admin.groups, approver: admin.groups.some((g) => approvers.includes(g)), approvers };
    });
  };
}
