// The console's static serving, without sockets: a build folder made here, the SPA fallback, cache headers, the
// page shown when the console was not built, and nothing outside the build ever served.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { buildApp } from './index.ts';
import { harness, type Harness } from '../../test/helpers/api.ts';

describe('console serving', () => {
  let h: Harness;
  let dist: string;
  before(async () => {
    h = await harness();
    dist = mkdtempSync(join(tmpdir(), 'agentgate-dist-'));
    mkdirSync(join(dist, 'assets'));
    writeFileSync(join(dist, 'index.html'), '<!doctype html><title>console</title><div id="root"></div>');
    writeFileSync(join(dist, 'assets', 'app-1234abcd.js'), 'console.log(1)');
    writeFileSync(join(dist, 'favicon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
  });
  after(async () => {
    await h.close();
    rmSync(dist, { recursive: true, force: true });
  });

  test('index.html for the app\'s paths, hashed assets cached for good, the API\'s JSON 404 kept', async () => {
    const app = await buildApp(h.deps, { console: { distDir: dist } });
    try {
      for (const url of ['/', '/approvals', '/sessions/s-old?seq=2', '/oidc/callback?code=x&state=y']) {
        const r = await app.inject({ url });
        assert.equal(r.statusCode, 200, url);
        assert.match(r.body, /<title>console<\/title>/, url);
        assert.equal(r.headers['cache-control'], 'no-cache');
        assert.match(String(r.headers['content-security-policy']), /^default-src 'self'; script-src 'self'/);
        assert.equal(r.headers['referrer-policy'], 'no-referrer');
      }
      const js = await app.inject({ url: '/assets/app-1234abcd.js' });
      assert.equal(js.statusCode, 200);
      assert.equal(js.headers['cache-control'], 'public, max-age=31536000, immutable');
      assert.match(String(js.headers['content-type']), /javascript/);
      const icon = await app.inject({ url: '/favicon.svg' });
      assert.equal(icon.headers['cache-control'], 'no-cache');
      for (const url of ['/assets/missing.js', '/api/nothing', '/api']) {
        const r = await app.inject({ url });
        assert.equal(r.statusCode, 404, url);
        assert.equal(JSON.parse(r.body).error.code, 'NOT_FOUND');
      }
      // Only the files of the build exist: a path that climbs out gets the app, never a file from elsewhere.
      for (const url of ['/..%2f..%2fpackage.json', '/assets/..%2f..%2fpackage.json', '/%2e%2e/%2e%2e/etc/passwd']) {
        const r = await app.inject({ url });
        assert.ok(!r.body.includes('"dependencies"') && !r.body.includes('root:'), url);
      }
      const me = await app.inject({ url: '/api/console/me', headers: { authorization: 'Bearer bob-admin-token-0a9d3f44' } });
      assert.deepEqual(JSON.parse(me.body), { name: 'bob', groups: ['dev'], approver: false, approvers: ['dba'] });
      assert.equal((await app.inject({ url: '/api/console/me' })).statusCode, 401);
      const cfg = await app.inject({ url: '/api/console/config' });
      assert.deepEqual(JSON.parse(cfg.body), { oidc: null });
      assert.equal(cfg.headers['cache-control'], 'no-store');
      const exchange = await app.inject({ method: 'POST', url: '/api/console/oidc/token', payload: {} });
      assert.equal(exchange.statusCode, 404, 'no OIDC sign-in without api.oidc');
    } finally {
      await app.close();
    }
  });

  test('without a build, / says the console is not built and how to build it; the API still works', async () => {
    const app = await buildApp(h.deps, { console: { distDir: join(dist, 'nowhere') } });
    try {
      const r = await app.inject({ url: '/sessions' });
      assert.equal(r.statusCode, 404);
      assert.match(String(r.headers['content-type']), /^text\/html/);
      assert.match(r.body, /The agentgate console is not built/);
      assert.match(r.body, /npm ci/);
      const api = await app.inject({ url: '/api/sessions', headers: { authorization: 'Bearer alice-admin-token-71c0e5d2' } });
      assert.equal(api.statusCode, 200);
    } finally {
      await app.close();
    }
  });
});
