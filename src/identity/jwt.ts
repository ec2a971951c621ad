// Verification of OIDC JWTs used as MySQL passwords. The issuer is chosen by the token's `iss` before anything
// else, so a token from an unknown issuer costs no network call; every failure is a LoginRefused whose reason a
// human can act on and which never quotes the token.
import type { KeyObject } from 'node:crypto';
import { compactVerify, decodeJwt, decodeProtectedHeader, errors } from 'jose';
import type { OidcIssuerConfig } from '../config/types.ts';
import { KeySource, type FetchFn, type JwksOptions } from './jwks.ts';
import { LoginRefused } from './types.ts';

export interface JwtVerifierOptions extends JwksOptions {
  /** Defaults to the global fetch. */
  fetch?: FetchFn;
  /** Milliseconds since the epoch; defaults to Date.now. */
  now?: () => number;
}

export interface VerifiedToken {
  subject: string;
  groups: string[];
  issuer: string;
  /** Milliseconds since the epoch. */
  expiresAt: number;
}

/** Far above any real ID or access token, far below what would make parsing a cost. */
const MAX_TOKEN = 16 * 1024;

/** Three base64url segments: what a JWS compact serialization looks like, before any decoding. */
export function looksLikeJwt(s: string): boolean {
  return s.length <= MAX_TOKEN && /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(s) && s.startsWith('ey');
}

export class JwtVerifier {
  readonly #issuers = new Map<string, { cfg: OidcIssuerConfig; keys: KeySource }>();
  readonly #now: () => number;

  constructor(issuers: readonly OidcIssuerConfig[], opts: JwtVerifierOptions = {}) {
    this.#now = opts.now ?? Date.now;
    const fetchFn: FetchFn = opts.fetch ?? ((url, init) => fetch(url, init));
    for (const cfg of issuers) {
      this.#issuers.set(normIssuer(cfg.issuer), { cfg, keys: new KeySource(cfg, fetchFn, this.#now, opts) });
    }
  }

  /** Checks signature, issuer, audience, validity period and subject; throws LoginRefused. */
  async verify(token: string): Promise<VerifiedToken> {
    if (token.length > MAX_TOKEN) throw new LoginRefused(`the token is longer than ${MAX_TOKEN} bytes`);
    let header: ReturnType<typeof decodeProtectedHeader>;
    let unverified: ReturnType<typeof decodeJwt>;
    try {
      header = decodeProtectedHeader(token);
      unverified = decodeJwt(token);
    } catch {
      throw new LoginRefused('the password is not a well-formed JWT');
    }

    if (typeof unverified.iss !== 'string') throw new LoginRefused('token has no issuer (iss)');
    const entry = this.#issuers.get(normIssuer(unverified.iss));
    if (!entry) throw new LoginRefused(`unknown token issuer ${quote(unverified.iss)}`);
    const { cfg, keys } = entry;

    const alg = header.alg;
    if (typeof alg !== 'string' || alg === '') throw new LoginRefused('token header has no algorithm (alg)');
    if (alg.toLowerCase() === 'none') throw new LoginRefused('token is not signed (alg "none")');
    if (/^HS\d+$/.test(alg)) {
      // HS256 "signed" with the issuer's public key as the HMAC secret is the classic key-confusion forgery.
      throw new LoginRefused(`token algorithm ${quote(alg)} is not accepted (shared-secret algorithms never are)`);
    }
    if (!cfg.algorithms.includes(alg)) {
      throw new LoginRefused(`token algorithm ${quote(alg)} is not accepted (accepted: ${cfg.algorithms.join(', ')})`);
    }
    const kid = typeof header.kid === 'string' ? header.kid : undefined;

    const payloadBytes = await verifySignature(token, await keys.keys(kid, alg), alg);
    let claims: Record<string, unknown>;
    try {
      // The claims that count are those the signature covers: decode them again from the verified bytes.
      claims = JSON.parse(new TextDecoder().decode(payloadBytes)) as Record<string, unknown>;
    } catch {
      throw new LoginRefused('token payload is not JSON');
    }
    return this.#checkClaims(claims, cfg);
  }

  #checkClaims(claims: Record<string, unknown>, cfg: OidcIssuerConfig): VerifiedToken {
    const nowS = this.#now() / 1000;
    const tol = cfg.clockTolerance / 1000;
    const { exp, nbf, iat, aud, sub } = claims;
    if (typeof exp !== 'number') throw new LoginRefused('token has no expiry (exp)');
    if (nowS - tol >= exp) throw new LoginRefused(`token expired at ${iso(exp)}`);
    if (nbf !== undefined) {
      if (typeof nbf !== 'number') throw new LoginRefused('token "nbf" is not a number');
      if (nbf > nowS + tol) throw new LoginRefused(`token is not valid before ${iso(nbf)}`);
    }
    if (iat !== undefined) {
      if (typeof iat !== 'number') throw new LoginRefused('token "iat" is not a number');
      if (iat > nowS + tol) throw new LoginRefused(`token was issued in the future (${iso(iat)}): check the clocks`);
    }
    const auds = typeof aud === 'string' ? [aud] : Array.isArray(aud) ? aud.filter((a): a is string => typeof a === 'string') : [];
    if (auds.length === 0) throw new LoginRefused('token has no audience (aud)');
    if (!auds.some((a) => cfg.audience.includes(a))) {
      const expected = cfg.audience.map(quote).join(' or ');
      throw new LoginRefused(auds.length === 1
        ? `token audience ${quote(auds[0]!)} is not accepted (expected ${expected})`
        : `token audiences ${auds.slice(0, 5).map(quote).join(', ')} are not accepted (expected ${expected})`);
    }
    if (typeof sub !== 'string' || sub === '') throw new LoginRefused('token has no subject (sub)');
    return { subject: sub, groups: groupsFrom(claims, cfg.groupsClaim), issuer: cfg.issuer, expiresAt: exp * 1000 };
  }
}

async function verifySignature(token: string, keys: KeyObject[], alg: string): Promise<Uint8Array> {
  for (const key of keys) {
    try {
      const { payload } = await compactVerify(token, key, { algorithms: [alg] });
      return payload;
    } catch (err) {
      if (err instanceof errors.JWSSignatureVerificationFailed) continue;
      if (err instanceof errors.JWSInvalid && /crit/i.test(err.message)) throw new LoginRefused(`token header is not accepted: ${err.message}`);
      if (err instanceof errors.JOSEError || err instanceof TypeError) throw new LoginRefused(`token signature cannot be checked: ${err.message}`);
      throw err;
    }
  }
  throw new LoginRefused('token signature does not verify');
}

/**
 * Groups from the configured claim: a list of strings, or one string of names separated by spaces or commas.
 * A claim name is looked up as written first (some IdPs use URLs with dots as claim names), then as a dotted path
 * such as Keycloak's `realm_access.roles`. An absent claim means no groups.
 */
export function groupsFrom(claims: Record<string, unknown>, claim: string): string[] {
  let v: unknown = Object.hasOwn(claims, claim) ? claims[claim] : undefined;
  if (v === undefined && claim.includes('.')) {
    v = claim.split('.').reduce<unknown>((o, k) => (o && typeof o === 'object' && Object.hasOwn(o, k) ? (o as Record<string, unknown>)[k] : undefined), claims);
  }
  if (v === undefined || v === null) return [];
  let list: string[];
  if (typeof v === 'string') list = v.split(/[\s,]+/);
  else if (Array.isArray(v) && v.every((g) => typeof g === 'string')) list = v as string[];
  else throw new LoginRefused(`token claim ${quote(claim)} is not a list of group names`);
  return [...new Set(list.map((g) => g.trim()).filter((g) => g !== ''))];
}

function normIssuer(iss: string): string {
  return iss.replace(/\/+$/, '');
}

function iso(seconds: number): string {
  const d = new Date(seconds * 1000);
  return Number.isNaN(d.getTime()) ? String(seconds) : d.toISOString();
}

/** A claim value in a message: quoted, and cut short (it comes from whoever made the token). */
function quote(s: string): string {
  const q = JSON.stringify(s);
  return q.length > 120 ? `${q.slice(0, 117)}..."` : q;
}
