// JWT logins against a real issuer: test/helpers/oidc.ts serves a discovery document and a JWKS over HTTP on
// 127.0.0.1, and the verifier fetches them with the real fetch (wrapped only to count calls).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { base64url, generateKeyPair, SignJWT } from 'jose';
import { startTestIssuer, type TestIssuer } from '../../test/helpers/oidc.ts';
import type { OidcIssuerConfig } from '../config/types.ts';
import { DEFAULTS } from '../config/validate.ts';
import { createIdentityVerifier, LoginRefused, type IdentityVerifierOptions } from './index.ts';
import type { FetchFn } from './jwks.ts';

function issuerConfig(idp: TestIssuer, extra: Partial<OidcIssuerConfig> = {}): OidcIssuerConfig {
  return {
    issuer: idp.issuer, audience: [idp.audience], groupsClaim: 'groups', algorithms: [...DEFAULTS.algorithms],
    clockTolerance: 30_000, ...extra,
  };
}

/** A fetch that counts and records calls, then really fetches. */
function countingFetch(): FetchFn & { urls: string[] } {
  const urls: string[] = [];
  const f = ((url: string, init: Parameters<FetchFn>[1]) => {
    urls.push(url);
    return fetch(url, init);
  }) as FetchFn & { urls: string[] };
  f.urls = urls;
  return f;
}

function verifier(idp: TestIssuer | OidcIssuerConfig[], opts: IdentityVerifierOptions = {}, extra: Partial<OidcIssuerConfig> = {}) {
  const oidc = Array.isArray(idp) ? idp : [issuerConfig(idp, extra)];
  return createIdentityVerifier({ oidc, serviceAccounts: [], admins: [] }, opts);
}

async function refused(p: Promise<unknown>, reason: string | RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof LoginRefused, `not a LoginRefused: ${String(err)}`);
    if (typeof reason === 'string') assert.equal(err.reason, reason);
    else assert.match(err.reason, reason);
    return true;
  });
}

const nowS = () => Math.floor(Date.now() / 1000);
const iso = (s: number) => new Date(s * 1000).toISOString();

describe('valid tokens', () => {
  let idp: TestIssuer;
  before(async () => { idp = await startTestIssuer(); });
  after(() => idp.close());

  test('ES256 through OIDC discovery: subject, groups, issuer and expiry', async () => {
    const f = countingFetch();
    const v = verifier(idp, { fetch: f });
    const exp = nowS() + 600;
    const token = await idp.sign({ sub: 'agent-7', groups: ['agents', 'readers'], exp });
    // The RSA exchange of caching_sha2_password carries ~470 bytes with a 4096-bit key: test tokens must fit.
    assert.ok(token.length < 400, `ES256 test tokens are compact (${token.length} bytes)`);
    assert.deepEqual(await v.verifyPassword('anyone', token), {
      subject: 'agent-7', groups: ['agents', 'readers'], via: 'oidc', issuer: idp.issuer, tokenExpiresAt: iso(exp),
    });
    assert.deepEqual(f.urls, [idp.discoveryUri, idp.jwksUri]);
    // Keys and discovery are cached.
    await v.verifyPassword('anyone', await idp.sign({ sub: 'agent-8' }));
    assert.equal(f.urls.length, 2);
  });

  test('RS256 with a configured jwksUri: no discovery', async () => {
    const f = countingFetch();
    const v = verifier(idp, { fetch: f }, { jwksUri: idp.jwksUri });
    const id = await v.verifyPassword('x', await idp.sign({ sub: 'rs-agent' }, { alg: 'RS256' }));
    assert.equal(id.subject, 'rs-agent');
    assert.deepEqual(f.urls, [idp.jwksUri]);
  });

  test('groups as a space- or comma-separated string, from a dotted path, or absent', async () => {
    const v = verifier(idp);
    assert.deepEqual((await v.verifyPassword('x', await idp.sign({ groups: 'agents readers,  dba,' }))).groups, ['agents', 'readers', 'dba']);
    assert.deepEqual((await v.verifyPassword('x', await idp.sign({ groups: undefined }))).groups, []);
    const kc = verifier(idp, {}, { groupsClaim: 'realm_access.roles' });
    assert.deepEqual((await kc.verifyPassword('x', await idp.sign({ realm_access: { roles: ['agents'] } }))).groups, ['agents']);
    const urlClaim = verifier(idp, {}, { groupsClaim: 'https://example.com/groups' });
    assert.deepEqual((await urlClaim.verifyPassword('x', await idp.sign({ 'https://example.com/groups': ['g1'] }))).groups, ['g1']);
    await refused(v.verifyPassword('x', await idp.sign({ groups: [1, 2] as unknown as string[] })), 'token claim "groups" is not a list of group names');
  });

  test('a token without kid is checked against the keys of its algorithm', async () => {
    const v = verifier(idp);
    assert.equal((await v.verifyPassword('x', await idp.sign({ sub: 'nokid' }, { noKid: true }))).subject, 'nokid');
  });

  test('a list audience with one accepted value, and an issuer written with a trailing slash', async () => {
    const v = verifier(idp, {}, { issuer: `${idp.issuer}/` });
    assert.equal((await v.verifyPassword('x', await idp.sign({ aud: ['other', idp.audience] }))).subject, 'agent-1');
  });
});

describe('refused tokens', () => {
  let idp: TestIssuer;
  before(async () => { idp = await startTestIssuer(); });
  after(() => idp.close());

  test('expired, beyond the clock tolerance', async () => {
    const v = verifier(idp);
    const exp = nowS() - 120;
    await refused(v.verifyPassword('x', await idp.sign({ exp })), `token expired at ${iso(exp)}`);
    // Within the tolerance (30 s) it still passes.
    assert.equal((await v.verifyPassword('x', await idp.sign({ exp: nowS() - 10 }))).subject, 'agent-1');
    await refused(v.verifyPassword('x', await idp.sign({ exp: undefined })), 'token has no expiry (exp)');
  });

  test('not yet valid', async () => {
    const v = verifier(idp);
    const nbf = nowS() + 300;
    await refused(v.verifyPassword('x', await idp.sign({ nbf })), `token is not valid before ${iso(nbf)}`);
  });

  test('a signature by another key under the same kid', async () => {
    const v = verifier(idp);
    const { privateKey } = await generateKeyPair('ES256');
    await refused(v.verifyPassword('x', await idp.sign({}, { privateKey, kid: idp.currentKey().kid })), 'token signature does not verify');
  });

  test('claims changed after signing', async () => {
    const v = verifier(idp);
    const [h, , s] = (await idp.sign({ sub: 'agent-1' })).split('.');
    const forged = base64url.encode(JSON.stringify({ iss: idp.issuer, aud: idp.audience, sub: 'root', exp: nowS() + 600 }));
    await refused(v.verifyPassword('x', `${h}.${forged}.${s}`), 'token signature does not verify');
  });

  test('another audience', async () => {
    const v = verifier(idp);
    await refused(v.verifyPassword('x', await idp.sign({ aud: 'x' })), 'token audience "x" is not accepted (expected "agentgate")');
    await refused(v.verifyPassword('x', await idp.sign({ aud: ['x', 'y'] })), 'token audiences "x", "y" are not accepted (expected "agentgate")');
    await refused(v.verifyPassword('x', await idp.sign({ aud: undefined })), 'token has no audience (aud)');
  });

  test('an unknown issuer, without any network call', async () => {
    const f = countingFetch();
    const v = verifier(idp, { fetch: f });
    const before = idp.requests.length;
    await refused(v.verifyPassword('x', await idp.sign({ iss: 'https://evil.example' })), 'unknown token issuer "https://evil.example"');
    await refused(v.verifyPassword('x', await idp.sign({ iss: undefined })), 'token has no issuer (iss)');
    assert.deepEqual(f.urls, []);
    assert.equal(idp.requests.length, before);
  });

  test('alg "none"', async () => {
    const v = verifier(idp);
    const enc = (o: object) => base64url.encode(JSON.stringify(o));
    const token = `${enc({ alg: 'none', kid: idp.currentKey().kid })}.${enc({ iss: idp.issuer, aud: idp.audience, sub: 'root', exp: nowS() + 600 })}.`;
    await refused(v.verifyPassword('x', token), 'token is not signed (alg "none")');
  });

  test('HS256 keyed with the issuer\'s public key', async () => {
    const v = verifier(idp);
    // The classic forgery: take the public key (which anyone can fetch) and use it as an HMAC secret.
    const secret = new TextEncoder().encode(JSON.stringify(idp.currentKey('RS256').publicJwk));
    const token = await new SignJWT({ iss: idp.issuer, aud: idp.audience, sub: 'root', exp: nowS() + 600 })
      .setProtectedHeader({ alg: 'HS256', kid: idp.currentKey('RS256').kid }).sign(secret);
    await refused(v.verifyPassword('x', token), 'token algorithm "HS256" is not accepted (shared-secret algorithms never are)');
  });

  test('an algorithm the issuer is not configured for, and a key of the wrong type', async () => {
    const esOnly = verifier(idp, {}, { algorithms: ['ES256'] });
    await refused(esOnly.verifyPassword('x', await idp.sign({}, { alg: 'RS256' })), 'token algorithm "RS256" is not accepted (accepted: ES256)');
    const v = verifier(idp);
    const { privateKey } = await generateKeyPair('RS256');
    await refused(v.verifyPassword('x', await idp.sign({}, { alg: 'RS256', privateKey, kid: idp.currentKey('ES256').kid })),
      `key "${idp.currentKey('ES256').kid}" of the issuer's JWKS is for ES256, not RS256`);
  });

  test('no subject', async () => {
    const v = verifier(idp);
    await refused(v.verifyPassword('x', await idp.sign({ sub: undefined })), 'token has no subject (sub)');
    await refused(v.verifyPassword('x', await idp.sign({ sub: '' })), 'token has no subject (sub)');
  });

  test('a password that is not a JWT, and reasons that never quote the token', async () => {
    const v = verifier(idp);
    await refused(v.verifyPassword('bob', 'hunter2'), '"bob" is not a service account and the password is not a JWT');
    await refused(v.verifyPassword('bob', ''), '"bob" is not a service account and no password (token) was given');
    await refused(v.verifyPassword('bob', 'eyJhbGciOi.eyJzdWIi.x'), 'the password is not a well-formed JWT');
    const token = await idp.sign({ aud: 'x' });
    await assert.rejects(v.verifyPassword('x', token), (err: LoginRefused) => !err.reason.includes(token.split('.')[2]!) && !err.message.includes(token));
  });
});

describe('key rotation', () => {
  let idp: TestIssuer;
  before(async () => { idp = await startTestIssuer(); });
  after(() => idp.close());

  test('a new kid is fetched at its first login; made-up kids cannot flood the IdP; a removed kid stops working', async () => {
    const t0 = Date.now();
    let clock = t0;
    const f = countingFetch();
    const v = verifier(idp, { fetch: f, now: () => clock, cooldownMs: 30_000, minIntervalMs: 1_000, maxAgeMs: 10 * 60_000 }, { jwksUri: idp.jwksUri });
    const oldToken = await idp.sign({ sub: 'old' }, { expiresIn: 3600 });
    assert.equal((await v.verifyPassword('x', oldToken)).subject, 'old');
    assert.equal(f.urls.length, 1);

    const oldKid = idp.currentKey().kid;
    const newKid = await idp.rotate();
    const newToken = await idp.sign({ sub: 'new' }, { expiresIn: 3600 });

    // Within a second of the last fetch, nothing is fetched again.
    clock = t0 + 500;
    await refused(v.verifyPassword('x', newToken), `no key "${newKid}" in the issuer's JWKS`);
    assert.equal(f.urls.length, 1);

    // The first login with the rotated key after that fetches once and succeeds.
    clock = t0 + 1_500;
    assert.equal((await v.verifyPassword('x', newToken)).subject, 'new');
    assert.equal(f.urls.length, 2);
    // The refetched set no longer has the old key; asking again for it within its cooldown fetches nothing.
    await refused(v.verifyPassword('x', oldToken), `no key "${oldKid}" in the issuer's JWKS`);
    const fetches = f.urls.length;
    for (let i = 0; i < 5; i++) await refused(v.verifyPassword('x', oldToken), `no key "${oldKid}" in the issuer's JWKS`);
    assert.equal(f.urls.length, fetches);

    // Tokens with made-up kids cause at most one fetch per second.
    clock = t0 + 10_000;
    for (let i = 0; i < 20; i++) {
      await refused(v.verifyPassword('x', await idp.sign({ sub: 'x' }, { kid: `made-up-${i}` })), `no key "made-up-${i}" in the issuer's JWKS`);
    }
    assert.ok(f.urls.length <= fetches + 1, `${f.urls.length - fetches} fetches for made-up kids in one second`);
  });

  test('a key kept through a rotation works until the cache expires after its removal', async () => {
    const t0 = Date.now();
    let clock = t0;
    const f = countingFetch();
    const v = verifier(idp, { fetch: f, now: () => clock, cooldownMs: 30_000, maxAgeMs: 5 * 60_000 });
    await idp.rotate();
    const oldToken = await idp.sign({ sub: 'old' }, { expiresIn: 3600 });
    assert.equal((await v.verifyPassword('x', oldToken)).subject, 'old');
    await idp.rotate({ keepOld: true });
    const newToken = await idp.sign({ sub: 'new' }, { expiresIn: 3600 });
    clock = t0 + 40_000;
    assert.equal((await v.verifyPassword('x', newToken)).subject, 'new', 'refetched on the unknown kid');
    assert.equal((await v.verifyPassword('x', oldToken)).subject, 'old', 'the old key is still published');

    await idp.rotate(); // now the JWKS drops both earlier generations
    clock = t0 + 40_000 + 60_000;
    assert.equal((await v.verifyPassword('x', oldToken)).subject, 'old', 'cached until max age');
    clock = t0 + 40_000 + 5 * 60_000;
    await refused(v.verifyPassword('x', oldToken), /^no key "es-\d+" in the issuer's JWKS$/);
  });

  test('concurrent logins share one fetch', async () => {
    const f = countingFetch();
    const v = verifier(idp, { fetch: f });
    const tokens = await Promise.all(Array.from({ length: 8 }, (_, i) => idp.sign({ sub: `a${i}` })));
    const ids = await Promise.all(tokens.map((t) => v.verifyPassword('x', t)));
    assert.deepEqual(ids.map((i) => i.subject), tokens.map((_, i) => `a${i}`));
    assert.deepEqual(f.urls, [idp.discoveryUri, idp.jwksUri]);
  });
});

describe('discovery', () => {
  test('an issuer with a path (Keycloak style)', async () => {
    const idp = await startTestIssuer({ path: '/realms/test' });
    try {
      const f = countingFetch();
      const v = verifier(idp, { fetch: f });
      assert.equal((await v.verifyPassword('x', await idp.sign())).issuer, idp.issuer);
      assert.deepEqual(f.urls, [`${idp.issuer}/.well-known/openid-configuration`, `${idp.issuer}/jwks`]);
      assert.ok(idp.issuer.endsWith('/realms/test'));
    } finally {
      await idp.close();
    }
  });

  test('a discovery document that names another issuer is refused', async () => {
    const idp = await startTestIssuer();
    try {
      const lying: FetchFn = async (url, init) => {
        if (url.endsWith('/openid-configuration')) return Response.json({ issuer: 'https://elsewhere.example', jwks_uri: idp.jwksUri });
        return fetch(url, init);
      };
      const v = verifier(idp, { fetch: lying });
      await refused(v.verifyPassword('x', await idp.sign()),
        `the OIDC discovery document ${idp.discoveryUri} names issuer "https://elsewhere.example", not "${idp.issuer}"`);
    } finally {
      await idp.close();
    }
  });
});

describe('when the issuer cannot be reached', () => {
  test('JWKS answering 503, with a configured jwksUri and through discovery', async () => {
    const idp = await startTestIssuer();
    try {
      const token = await idp.sign();
      idp.setDown(true);
      await refused(verifier(idp, {}, { jwksUri: idp.jwksUri }).verifyPassword('x', token),
        `cannot fetch the JWKS of ${idp.jwksUri}: HTTP 503 Service Unavailable`);
      await refused(verifier(idp).verifyPassword('x', token),
        `cannot fetch the OIDC discovery document ${idp.discoveryUri}: HTTP 503 Service Unavailable`);
    } finally {
      await idp.close();
    }
  });

  test('nothing listening, and a server too slow to answer', async () => {
    const idp = await startTestIssuer();
    const token = await idp.sign();
    idp.setDelay(1_000);
    await refused(verifier(idp, { timeoutMs: 100 }, { jwksUri: idp.jwksUri }).verifyPassword('x', token),
      `cannot fetch the JWKS of ${idp.jwksUri}: no answer within 100 ms`);
    await idp.close();
    await refused(verifier(idp, {}, { jwksUri: idp.jwksUri }).verifyPassword('x', token),
      `cannot fetch the JWKS of ${idp.jwksUri}: connection refused`);
  });

  test('after a failure, logins within the cooldown do not ask again; after it they do', async () => {
    const idp = await startTestIssuer();
    try {
      const t0 = Date.now();
      let clock = t0;
      const f = countingFetch();
      const v = verifier(idp, { fetch: f, now: () => clock, cooldownMs: 30_000 }, { jwksUri: idp.jwksUri });
      const token = await idp.sign();
      idp.setDown(true);
      const reason = `cannot fetch the JWKS of ${idp.jwksUri}: HTTP 503 Service Unavailable`;
      await refused(v.verifyPassword('x', token), reason);
      clock = t0 + 5_000;
      await refused(v.verifyPassword('x', token), reason);
      assert.equal(f.urls.length, 1);
      idp.setDown(false);
      clock = t0 + 31_000;
      assert.equal((await v.verifyPassword('x', token)).subject, 'agent-1');
      assert.equal(f.urls.length, 2);
    } finally {
      await idp.close();
    }
  });

  test('known keys ride out an outage for staleIfErrorMs past their max age', async () => {
    const idp = await startTestIssuer();
    try {
      const t0 = Date.now();
      let clock = t0;
      const v = verifier(idp, { now: () => clock, maxAgeMs: 60_000, staleIfErrorMs: 120_000 }, { jwksUri: idp.jwksUri });
      const token = await idp.sign({}, { expiresIn: 3600 });
      await v.verifyPassword('x', token);
      idp.setDown(true);
      clock = t0 + 90_000;
      assert.equal((await v.verifyPassword('x', token)).subject, 'agent-1', 'stale keys still serve');
      clock = t0 + 200_000;
      await refused(v.verifyPassword('x', token), `cannot fetch the JWKS of ${idp.jwksUri}: HTTP 503 Service Unavailable`);
    } finally {
      await idp.close();
    }
  });
});

describe('several issuers', () => {
  test('each token is checked against its own issuer\'s keys', async () => {
    const a = await startTestIssuer();
    const b = await startTestIssuer({ audience: 'gw-b' });
    try {
      const v = verifier([issuerConfig(a), issuerConfig(b)]);
      assert.equal((await v.verifyPassword('x', await a.sign({ sub: 'from-a' }))).issuer, a.issuer);
      assert.equal((await v.verifyPassword('x', await b.sign({ sub: 'from-b' }))).issuer, b.issuer);
      // Both test issuers name their keys es-1, rs-1: a token claiming a's issuer but signed with b's key finds a
      // key under that kid, a's own, and must fail on the signature.
      assert.equal(a.currentKey().kid, b.currentKey().kid);
      const { privateKey } = b.currentKey();
      await refused(v.verifyPassword('x', await a.sign({}, { privateKey })), 'token signature does not verify');
    } finally {
      await a.close();
      await b.close();
    }
  });
});
