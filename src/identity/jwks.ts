// The public keys of one OIDC issuer: discovered, fetched, cached, refreshed when they age or when a token names a
// key we do not have (rotation: picked up by the first login that uses the new key), and never fetched more often
// than once per `minIntervalMs`, nor twice per cooldown for the same unknown kid, however many bad tokens arrive. Network access goes through an injected fetch and time through an injected clock.
import { createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { isLoopbackHost } from '../config/check.ts';
import type { OidcIssuerConfig } from '../config/types.ts';
import { LoginRefused } from './types.ts';

export type FetchFn = (url: string, init: { signal: AbortSignal; headers: Record<string, string> }) => Promise<Response>;

export interface JwksOptions {
  /** Keys are fetched again after this long even when every kid is known. Default 10 min. */
  maxAgeMs?: number;
  /** Least time between two fetches caused by the same unknown kid, or after a failure. Default 30 s. */
  cooldownMs?: number;
  /** Least time between any two fetches caused by unknown kids. Default 1 s. */
  minIntervalMs?: number;
  /** When a refresh fails, the last good keys stay in use this long past `maxAgeMs`, riding out a short IdP outage. Default 1 h. */
  staleIfErrorMs?: number;
  /** Each HTTP request gives up after this long. Default 5 s. */
  timeoutMs?: number;
  /** A discovered `jwks_uri` is looked up again after this long. Default 24 h. */
  discoveryMaxAgeMs?: number;
}

export const JWKS_DEFAULTS: Required<JwksOptions> = {
  maxAgeMs: 10 * 60_000,
  cooldownMs: 30_000,
  minIntervalMs: 1_000,
  staleIfErrorMs: 60 * 60_000,
  timeoutMs: 5_000,
  discoveryMaxAgeMs: 24 * 60 * 60_000,
};

/** A JWKS document must be small; anything bigger is not a key set we want to parse. */
const MAX_BODY = 1 << 20;

interface KeyEntry {
  jwk: JsonWebKey & { kid?: string; alg?: string; use?: string };
  key?: KeyObject;
}

export class KeySource {
  readonly issuer: string;
  readonly #cfg: OidcIssuerConfig;
  readonly #fetch: FetchFn;
  readonly #now: () => number;
  readonly #opts: Required<JwksOptions>;
  #keys: KeyEntry[] | undefined;
  #fetchedAt = 0;
  #lastAttempt = -Infinity;
  #lastError: string | undefined;
  #inflight: Promise<void> | undefined;
  /** Unknown kids that already caused a fetch, and when (bounded: forgotten wholesale past 1,000). */
  readonly #triedKids = new Map<string, number>();
  #jwksUri: string | undefined;
  #discoveredAt = 0;

  constructor(cfg: OidcIssuerConfig, fetchFn: FetchFn, now: () => number, opts: JwksOptions = {}) {
    this.issuer = cfg.issuer;
    this.#cfg = cfg;
    this.#fetch = fetchFn;
    this.#now = now;
    this.#opts = { ...JWKS_DEFAULTS, ...opts };
  }

  /**
   * The keys that may have signed a token with this `kid` (any key when the token has none) and `alg`.
   * Throws LoginRefused when there is none, or when the key set cannot be had.
   */
  async keys(kid: string | undefined, alg: string): Promise<KeyObject[]> {
    const now = this.#now();
    if (!this.#keys) {
      // Never had keys and the last try failed a moment ago: answer with that failure instead of asking again, so
      // a flood of logins during an outage does not become a flood of requests to the IdP.
      if (this.#lastError !== undefined && now - this.#lastAttempt < this.#opts.cooldownMs) throw new LoginRefused(this.#lastError);
      await this.#refresh();
    } else if (now - this.#fetchedAt >= this.#opts.maxAgeMs) {
      await this.#refresh();
    }
    let found = this.#match(kid, alg);
    if (found.length === 0 && this.#mayRefetchFor(kid)) {
      // An unknown kid is how a key rotation shows itself: look once more, so the first login with the new key
      // succeeds. Rate limits keep made-up kids from turning into a flood of requests to the IdP.
      await this.#refresh();
      found = this.#match(kid, alg);
    }
    if (found.length === 0) {
      const where = kid === undefined ? `no key for ${alg} in the issuer's JWKS` : `no key ${JSON.stringify(kid)} in the issuer's JWKS`;
      throw new LoginRefused(this.#lastError ? `${where} (the last fetch failed: ${this.#lastError})` : where);
    }
    return found;
  }

  #mayRefetchFor(kid: string | undefined): boolean {
    const now = this.#now();
    if (now - this.#lastAttempt < this.#opts.minIntervalMs) return false;
    if (this.#lastError !== undefined && now - this.#lastAttempt < this.#opts.cooldownMs) return false;
    const key = kid ?? '';
    const tried = this.#triedKids.get(key);
    if (tried !== undefined && now - tried < this.#opts.cooldownMs) return false;
    if (this.#triedKids.size >= 1000) this.#triedKids.clear();
    this.#triedKids.set(key, now);
    return true;
  }

  #match(kid: string | undefined, alg: string): KeyObject[] {
    const out: KeyObject[] = [];
    for (const e of this.#keys ?? []) {
      if (kid !== undefined && e.jwk.kid !== kid) continue;
      const unusable = unusableFor(e.jwk, alg);
      if (unusable) {
        // The token names this very key: say why it does not fit rather than "no key".
        if (kid !== undefined) throw new LoginRefused(`key ${JSON.stringify(kid)} of the issuer's JWKS ${unusable}`);
        continue;
      }
      if (!e.key) {
        try {
          e.key = createPublicKey({ key: e.jwk, format: 'jwk' });
        } catch {
          if (kid !== undefined) throw new LoginRefused(`key ${JSON.stringify(kid)} of the issuer's JWKS is not a valid public key`);
          continue;
        }
      }
      out.push(e.key);
    }
    return out;
  }

  /** One refresh at a time: concurrent logins share it. */
  #refresh(): Promise<void> {
    this.#inflight ??= this.#doRefresh().finally(() => {
      this.#inflight = undefined;
    });
    return this.#inflight;
  }

  async #doRefresh(): Promise<void> {
    this.#lastAttempt = this.#now();
    let uri: string | undefined;
    try {
      uri = await this.#uri();
      const doc = await getJson(this.#fetch, uri, this.#opts.timeoutMs);
      this.#keys = parseJwks(doc);
      this.#fetchedAt = this.#now();
      this.#lastError = undefined;
    } catch (err) {
      if (err instanceof LoginRefused && uri === undefined) this.#lastError = err.reason;
      else this.#lastError = `cannot fetch the JWKS of ${uri}: ${describe(err)}`;
      // A key set that cannot be had may mean the discovered location moved: look it up again next time.
      if (!this.#cfg.jwksUri) this.#jwksUri = undefined;
      const usable = this.#keys !== undefined && this.#now() - this.#fetchedAt < this.#opts.maxAgeMs + this.#opts.staleIfErrorMs;
      if (!usable) throw new LoginRefused(this.#lastError);
    }
  }

  async #uri(): Promise<string> {
    if (this.#cfg.jwksUri) return this.#cfg.jwksUri;
    if (this.#jwksUri && this.#now() - this.#discoveredAt < this.#opts.discoveryMaxAgeMs) return this.#jwksUri;
    const url = `${this.issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
    let doc: unknown;
    try {
      doc = await getJson(this.#fetch, url, this.#opts.timeoutMs);
    } catch (err) {
      throw new LoginRefused(`cannot fetch the OIDC discovery document ${url}: ${describe(err)}`);
    }
    const d = (doc ?? {}) as { issuer?: unknown; jwks_uri?: unknown };
    // OpenID Connect Discovery 1.0 §4.3: the document must name the issuer it was fetched for.
    if (typeof d.issuer !== 'string' || trimSlash(d.issuer) !== trimSlash(this.issuer)) {
      throw new LoginRefused(`the OIDC discovery document ${url} names issuer ${JSON.stringify(String(d.issuer)).slice(0, 200)}, not ${JSON.stringify(this.issuer)}`);
    }
    if (typeof d.jwks_uri !== 'string' || !safeUrl(d.jwks_uri)) {
      throw new LoginRefused(`the OIDC discovery document ${url} has no usable jwks_uri (an https URL)`);
    }
    this.#jwksUri = d.jwks_uri;
    this.#discoveredAt = this.#now();
    return d.jwks_uri;
  }
}

function trimSlash(s: string): string {
  return s.replace(/\/+$/, '');
}

function safeUrl(s: string): boolean {
  try {
    const u = new URL(s);
    return u.protocol === 'https:' || (u.protocol === 'http:' && isLoopbackHost(u.hostname));
  } catch {
    return false;
  }
}

const EC_CURVES: Record<string, string> = { ES256: 'P-256', ES384: 'P-384', ES512: 'P-521' };

/** Why a JWK cannot check a signature made with `alg`, or undefined when it can. */
function unusableFor(jwk: KeyEntry['jwk'], alg: string): string | undefined {
  if (jwk.use !== undefined && jwk.use !== 'sig') return `is for use "${jwk.use}", not signatures`;
  if (jwk.alg !== undefined && jwk.alg !== alg) return `is for ${jwk.alg}, not ${alg}`;
  if (/^(RS|PS)\d+$/.test(alg)) return jwk.kty === 'RSA' ? undefined : `is a ${jwk.kty} key, not an RSA key for ${alg}`;
  const crv = EC_CURVES[alg];
  if (crv) return jwk.kty === 'EC' && jwk.crv === crv ? undefined : `is not a ${crv} EC key for ${alg}`;
  if (alg === 'EdDSA') return jwk.kty === 'OKP' && (jwk.crv === 'Ed25519' || jwk.crv === 'Ed448') ? undefined : `is not an Ed25519/Ed448 key for EdDSA`;
  return `cannot be used with ${alg}`;
}

function parseJwks(doc: unknown): KeyEntry[] {
  const keys = (doc as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys)) throw new Error('the answer is not a JWKS (no "keys" list)');
  // Symmetric keys never belong in a public key set; dropping them here means no path can ever use one.
  return keys
    .filter((k): k is KeyEntry['jwk'] => !!k && typeof k === 'object' && typeof (k as { kty?: unknown }).kty === 'string' && (k as { kty: string }).kty !== 'oct')
    .map((jwk) => ({ jwk }));
}

async function getJson(fetchFn: FetchFn, url: string, timeoutMs: number): Promise<unknown> {
  let res: Response;
  try {
    res = await fetchFn(url, { signal: AbortSignal.timeout(timeoutMs), headers: { accept: 'application/json' } });
  } catch (err) {
    if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) throw new Error(`no answer within ${timeoutMs} ms`);
    throw err;
  }
  if (!res.ok) {
    await res.body?.cancel().catch(() => {});
    throw new Error(`HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}`);
  }
  const text = await res.text();
  if (text.length > MAX_BODY) throw new Error(`the answer is larger than ${MAX_BODY} bytes`);
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new Error('the answer is not JSON');
  }
}

/** A network error in a few words: Node's fetch says only "fetch failed" and keeps the reason in `cause`. */
function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  if (err.name === 'TimeoutError' || err.name === 'AbortError') return 'no answer in time';
  const cause = (err as { cause?: unknown }).cause;
  if (cause instanceof Error) {
    const code = (cause as NodeJS.ErrnoException).code;
    if (code === 'ECONNREFUSED') return 'connection refused';
    if (code === 'ENOTFOUND') return 'host not found';
    if (code === 'ECONNRESET') return 'connection reset';
    return cause.message || err.message;
  }
  return err.message;
}
