// The web console in a real browser (Debian's chromium driven by playwright-core) against a real in-process
// gateway, real mysql2 agents and the test MariaDB: sign in, watch a held statement arrive live and approve it,
// replay a session and find its masked cells marked, follow a search hit to its event, open a 10,000-event
// session, sign in with OIDC (authorization code with PKCE). Screenshots of the main pages at desktop and phone
// widths go to test-output/screenshots/.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import mysql from 'mysql2/promise';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { sqliteTamper } from '../helpers/audit.ts';
import { defaultYaml, repoRoot, startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { rootSql, testMariaDB } from '../helpers/mariadb.ts';
import { startTestIssuer, type TestIssuer } from '../helpers/oidc.ts';

const CHROMIUM = process.env.AGENTGATE_CHROMIUM ?? '/usr/bin/chromium';
const SHOTS = join(repoRoot, 'test-output', 'screenshots');
const VIEWPORTS = [
  { name: 'desktop', width: 1280, height: 800 },
  { name: 'phone', width: 390, height: 844 },
] as const;
const AGENT = { user: 'agent', password: 'agent-secret-0123456789' };
const BOB_TOKEN = 'bob-token-0123456789abcdef';
// Evaluated in the page (the test itself is type-checked without the DOM library).
const BODY_BG = 'getComputedStyle(document.body).backgroundColor';

const POLICIES = `  - name: agents
    groups: [agents]
    targets: ["*"]
    rules:
      - { name: drops-need-approval, kinds: [drop], action: approve }
    masking:
      - { columns: ["*.customers.email"], style: partial }
  - name: staff
    groups: [ci, dba]
    targets: ["*"]`;

/** The console is built by `npm ci` (the prepare script); a checkout that skipped it is built here once. */
function ensureConsoleBuilt(): void {
  if (existsSync(join(repoRoot, 'console', 'dist', 'index.html'))) return;
  const bin = join(repoRoot, 'node_modules', '.bin');
  for (const [cmd, args] of [['tsc', ['-p', 'console/tsconfig.json']], ['vite', ['build', 'console']]] as const) {
    const r = spawnSync(process.execPath, [join(bin, cmd), ...args], { cwd: repoRoot, stdio: 'inherit' });
    assert.equal(r.status, 0, `${cmd} failed while building the console`);
  }
}

async function launch(): Promise<{ context: BrowserContext; close(): Promise<void> }> {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install -y chromium (scripts/ensure-system.sh does it)`);
  const profile = mkdtempSync(join(tmpdir(), 'agentgate-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
    viewport: { width: 1280, height: 800 },
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

async function screenshots(page: Page, name: string, ready: () => Promise<unknown> = async () => {}): Promise<void> {
  mkdirSync(SHOTS, { recursive: true });
  for (const v of VIEWPORTS) {
    await page.setViewportSize({ width: v.width, height: v.height });
    await ready();
    // Two frames: layout after the resize, then paint.
    await page.evaluate('new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))');
    await page.screenshot({ path: join(SHOTS, `${name}-${v.name}.png`) });
  }
  await page.setViewportSize({ width: 1280, height: 800 });
}

async function signInWithToken(page: Page, url: string, token: string): Promise<void> {
  await page.goto(url);
  await page.getByLabel('Admin token', { exact: true }).fill(token);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.getByRole('heading', { level: 1, name: 'Approvals' }).waitFor();
}

interface ApiSession {
  id: string;
  events: { seq: number; type: string; sql?: string; columns?: { name: string; masked: string | null }[]; rows?: (string | null)[][] }[];
}

describe('the web console', () => {
  let g: TestGateway;
  let browser: Awaited<ReturnType<typeof launch>>;
  let page: Page;
  let root: (sql: string) => string;
  const api = async <T,>(path: string): Promise<T> => {
    const res = await fetch(`${g.apiUrl}${path}`, { headers: { authorization: `Bearer ${g.adminToken}` } });
    assert.equal(res.status, 200, `${path}: HTTP ${res.status}`);
    return (await res.json()) as T;
  };
  const agent = () => mysql.createConnection({ host: '127.0.0.1', port: g.port(), ...AGENT, database: g.upstream.database });

  before(async () => {
    ensureConsoleBuilt();
    g = await startTestGateway({ yaml: (p) => defaultYaml(p, { policies: POLICIES }) });
    const srv = await testMariaDB();
    const db = g.upstream.database;
    root = (sql) => rootSql(srv, sql);
    root(`CREATE TABLE ${db}.customers (id INT PRIMARY KEY, name VARCHAR(50), email VARCHAR(80));
      INSERT INTO ${db}.customers VALUES (1, 'Ann Archer', 'ann@example.com'), (2, 'Bob Builder', 'bob@example.com');
      CREATE TABLE ${db}.tmp_import (a INT)`);
    browser = await launch();
    page = browser.context.pages()[0] ?? await browser.context.newPage();
    browser.context.setDefaultTimeout(15_000);
  });

  after(async () => {
    await browser?.close();
    await g?.stop();
  });

  test('the gateway serves the console with a fallback to the app, and keeps the API\'s JSON 404', async () => {
    const index = await fetch(`${g.apiUrl}/sessions/some-id?seq=3`);
    assert.equal(index.status, 200);
    assert.match(index.headers.get('content-type') ?? '', /^text\/html/);
    assert.equal(index.headers.get('cache-control'), 'no-cache');
    assert.match(index.headers.get('content-security-policy') ?? '', /default-src 'self'/);
    const html = await index.text();
    const asset = /\/assets\/[^"]+\.js/.exec(html)?.[0];
    assert.ok(asset, 'index.html loads a bundled script');
    const js = await fetch(`${g.apiUrl}${asset}`);
    assert.equal(js.status, 200);
    assert.equal(js.headers.get('cache-control'), 'public, max-age=31536000, immutable');
    const missing = await fetch(`${g.apiUrl}/api/no-such-route`);
    assert.equal(missing.status, 404);
    assert.equal(((await missing.json()) as { error: { code: string } }).error.code, 'NOT_FOUND');
    const config = await fetch(`${g.apiUrl}/api/console/config`);
    assert.deepEqual(await config.json(), { oidc: null });
  });

  test('a wrong token is refused with a clear message', async () => {
    await page.goto(g.apiUrl);
    await page.getByLabel('Admin token', { exact: true }).fill('not-a-real-token-000000');
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    const alert = page.getByRole('alert');
    await alert.waitFor();
    assert.match(await alert.innerText(), /refused: the admin token is not valid/);
  });

  test('a statement held for approval appears live while the agent waits; approving it in the console lets it run', async () => {
    await signInWithToken(page, g.apiUrl, g.adminToken);
    await page.getByRole('status').filter({ hasText: 'Live' }).waitFor();
    assert.equal(await page.evaluate('window.location.search + window.location.hash'), '', 'the token never appears in the address');

    // Bob (not an approver) watches in another tab.
    const bobPage = await browser.context.newPage();
    await signInWithToken(bobPage, g.apiUrl, BOB_TOKEN);
    await bobPage.getByRole('status').filter({ hasText: 'Live' }).waitFor();

    const conn = await agent();
    try {
      let settled = false;
      const drop = conn.query('DROP TABLE tmp_import').finally(() => {
        settled = true;
      });
      const card = page.getByRole('article').filter({ hasText: 'DROP TABLE tmp_import' });
      await card.waitFor({ timeout: 15_000 });
      assert.equal(settled, false, 'the agent is still waiting');
      const text = await card.innerText();
      assert.match(text, /agent/);
      assert.match(text, /drops-need-approval/);
      assert.match(text, /drop/);
      assert.ok(await card.locator('pre.sql .sql-kw').count() >= 2, 'the SQL is highlighted');

      // A non-approver's decision is refused, and the console says why.
      const bobCard = bobPage.getByRole('article').filter({ hasText: 'DROP TABLE tmp_import' });
      await bobCard.waitFor();
      await bobCard.getByRole('button', { name: 'Approve' }).click();
      const refused = bobCard.getByRole('alert');
      await refused.waitFor();
      assert.match(await refused.innerText(), /You cannot decide this request: bob is not in an approver group \(dba\)/);

      await screenshots(page, 'approvals', () => card.scrollIntoViewIfNeeded());

      await card.getByLabel(/Reason/).fill('backup taken');
      await card.getByRole('button', { name: 'Approve' }).click();
      await Promise.race([drop, new Promise((_, reject) => setTimeout(() => reject(new Error('the agent statement did not complete')), 15_000))]);
      assert.equal(settled, true);
      assert.equal(root(`SHOW TABLES FROM ${g.upstream.database} LIKE 'tmp_import'`).trim(), '', 'the DROP ran');

      const decided = page.locator('table.decided tbody tr').filter({ hasText: 'DROP TABLE tmp_import' });
      await decided.waitFor();
      const row = await decided.innerText();
      assert.match(row, /approved/);
      assert.match(row, /alice/);
      assert.match(row, /backup taken/);
      assert.equal(await card.count(), 0, 'no longer in the pending queue');
      // Bob's tab learned of the decision from the stream.
      await bobPage.locator('table.decided tbody tr').filter({ hasText: 'DROP TABLE tmp_import' }).waitFor();
    } finally {
      await conn.end().catch(() => {});
      await bobPage.close();
    }
  });

  test('keyboard only: deny a held statement with a reason; the agent gets the MySQL error', async () => {
    root(`CREATE TABLE ${g.upstream.database}.keep_me (a INT)`);
    const conn = await agent();
    try {
      const drop = conn.query('DROP TABLE keep_me').then(() => null, (e: Error & { errno?: number }) => e);
      const card = page.getByRole('article').filter({ hasText: 'DROP TABLE keep_me' });
      await card.waitFor();
      await card.getByLabel(/Reason/).focus();
      await page.keyboard.type('not during business hours');
      await page.keyboard.press('Tab');
      assert.equal(await page.evaluate('document.activeElement.textContent'), 'Approve');
      await page.keyboard.press('Tab');
      assert.equal(await page.evaluate('document.activeElement.textContent'), 'Deny');
      const outline = await page.evaluate<string>('getComputedStyle(document.activeElement).outlineStyle');
      assert.equal(outline, 'solid', 'the focused button shows a visible outline');
      await page.keyboard.press('Enter');
      const err = await drop;
      assert.ok(err, 'the DROP was refused');
      assert.equal(err.errno, 1227);
      assert.match(err.message, /^agentgate: approval denied/);
      const row = page.locator('table.decided tbody tr').filter({ hasText: 'DROP TABLE keep_me' });
      await row.waitFor();
      assert.match(await row.innerText(), /denied[\s\S]*alice[\s\S]*not during business hours/);
      assert.equal(root(`SHOW TABLES FROM ${g.upstream.database} LIKE 'keep_me'`).trim(), 'keep_me');
    } finally {
      await conn.end().catch(() => {});
    }
  });

  test('a session replays event by event, with the masked cells marked', async () => {
    const conn = await agent();
    await conn.query('SELECT id, name, email FROM customers ORDER BY id');
    await conn.query('SELECT COUNT(*) AS n FROM customers');
    await conn.end();

    await page.getByRole('link', { name: 'Sessions' }).click();
    await page.getByRole('heading', { level: 1, name: 'Sessions' }).waitFor();
    await page.getByLabel('Identity').fill('agent');
    await page.getByLabel('Statement kind').selectOption('select');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.waitForURL(/subject=agent/);
    const firstRow = page.locator('table.sessions tbody tr').first();
    await firstRow.waitFor();
    await firstRow.getByRole('link').click();
    await page.getByRole('heading', { level: 1, name: /Session of agent on app/ }).waitFor();

    const timeline = page.getByRole('listbox');
    await timeline.getByRole('option').filter({ hasText: 'SELECT id, name, email' }).click();
    const detail = page.locator('.event-detail');
    await detail.getByRole('heading', { name: /Event #\d+: query/ }).waitFor();
    const masked = detail.locator('td.masked[data-masked="partial"]');
    await masked.first().waitFor();
    assert.equal(await masked.count(), 2, 'both email cells are marked');
    assert.equal(await detail.locator('th[data-masked="partial"]').innerText().then((t) => t.includes('email')), true);

    // What the agent received, exactly: compare with the recorded rows.
    const id = new URL(page.url()).pathname.split('/').pop()!;
    const seq = Number(new URL(page.url()).searchParams.get('seq'));
    const s = await api<ApiSession>(`/api/sessions/${id}`);
    const ev = s.events.find((e) => e.seq === seq)!;
    assert.equal(ev.sql, 'SELECT id, name, email FROM customers ORDER BY id');
    const recorded = ev.rows!.map((r) => r[2]!);
    assert.ok(!recorded.includes('bob@example.com'), 'recorded masked');
    const shown = await masked.allInnerTexts();
    for (let i = 0; i < recorded.length; i++) assert.ok(shown[i]!.includes(recorded[i]!), `cell ${i}: ${shown[i]} shows ${recorded[i]}`);
    assert.match(shown.join(' '), /masked: partial/);
    const clear = await detail.locator('tbody td:not(.masked)').allInnerTexts();
    assert.ok(clear.includes('Bob Builder'));

    // Step with the keyboard: the next event is the COUNT(*).
    await timeline.focus();
    await page.keyboard.press('ArrowDown');
    await detail.getByRole('heading', { name: `Event #${seq + 1}: query` }).waitFor();
    assert.match(await detail.innerText(), /SELECT COUNT\(\*\) AS n FROM customers/);
    await page.keyboard.press('ArrowUp');
    await detail.getByRole('heading', { name: `Event #${seq}: query` }).waitFor();

    // Play: it walks forward on its own and stops at the end.
    await page.getByLabel('Speed').selectOption('20');
    await page.getByRole('button', { name: 'Play' }).click();
    await page.getByRole('button', { name: 'Play' }).waitFor({ timeout: 20_000 });
    const last = s.events[s.events.length - 1]!;
    await detail.getByRole('heading', { name: new RegExp(`Event #${last.seq}:`) }).waitFor();

    await timeline.getByRole('option').filter({ hasText: 'SELECT id, name, email' }).click();
    await screenshots(page, 'session-replay', () => masked.last().scrollIntoViewIfNeeded());
  });

  test('a search for a value links to the exact event that returned it', async () => {
    const expected = await api<{ hits: { sessionId: string; seq: number; column: string }[] }>('/api/audit/search?value=Bob%20Builder');
    assert.ok(expected.hits.length >= 1);
    const hit = expected.hits[0]!;

    await page.getByRole('link', { name: 'Search' }).click();
    await page.getByRole('heading', { level: 1, name: /Search/ }).waitFor();
    await page.getByLabel(/^Value/).fill('Bob Builder');
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    const links = page.locator('table.hits a.hit-link');
    await links.first().waitFor();
    assert.equal(await links.count(), expected.hits.length);
    const firstRow = await page.locator('table.hits tbody tr').first().innerText();
    assert.match(firstRow, /agent/);
    assert.match(firstRow, new RegExp(`${g.upstream.database}\\.customers\\.name`));
    await screenshots(page, 'search');

    await links.first().click();
    await page.waitForURL((u) => u.pathname === `/sessions/${hit.sessionId}` && u.searchParams.get('seq') === String(hit.seq));
    const detail = page.locator('.event-detail');
    await detail.getByRole('heading', { name: `Event #${hit.seq}: query` }).waitFor();
    assert.ok((await detail.locator('tbody td').allInnerTexts()).includes('Bob Builder'));
    const selected = page.getByRole('listbox').getByRole('option', { selected: true });
    assert.equal(await selected.getAttribute('data-seq'), String(hit.seq));

    // A column search finds the masked column too, and a value searched in clear is not found.
    await page.goto(`${g.apiUrl}/search?column=*.customers.email`);
    await page.locator('table.hits a.hit-link').first().waitFor();
    await page.goto(`${g.apiUrl}/search?value=bob%40example.com`);
    await page.getByText('Nobody received that value').waitFor();
  });

  test('the integrity page shows the verify status of the audit chain', async () => {
    await page.goto(`${g.apiUrl}/integrity`);
    await page.getByText('The audit trail verifies.').waitFor({ timeout: 30_000 });
    const stats = await page.locator('dl.stats').innerText();
    assert.match(stats, /Events/);
    await screenshots(page, 'integrity');
  });

  test('a 10,000-event session opens, scrolls and steps without rendering every event', { timeout: 180_000 }, async () => {
    const store = g.gateway.store;
    const id = `big-${randomUUID()}`;
    const t0 = Date.now() - 3_600_000;
    const at = (i: number) => new Date(t0 + i * 100).toISOString();
    await store.openSession({
      id, target: 'app', identity: { subject: 'bulk-agent', groups: ['agents'], via: 'service_account' }, client: '127.0.0.1:40000',
      tls: false, startedAt: at(0), instanceId: 'browser-test', policy: 'agents',
    });
    const writes: Promise<void>[] = [];
    for (let seq = 1; seq <= 10_000; seq++) {
      writes.push(store.append({
        sessionId: id, seq, at: at(seq), type: seq === 1 ? 'connect' : 'query',
        ...(seq === 1 ? { detail: { via: 'service_account' } } : {
          sql: `SELECT ${seq} AS n, 'row ${seq}' AS label`, kinds: ['select'],
          decision: { action: 'allow', policy: 'agents', rule: null }, durationMs: 0.3,
        }),
      }));
      if (writes.length >= 1000) await Promise.all(writes.splice(0));
    }
    await Promise.all(writes);
    await store.closeSession(id, at(10_001), 'quit');

    const started = Date.now();
    await page.goto(`${g.apiUrl}/sessions/${id}`);
    const timeline = page.getByRole('listbox');
    await timeline.waitFor({ timeout: 60_000 });
    const elapsed = Date.now() - started;
    assert.ok(elapsed < 60_000, `opened in ${elapsed} ms`);
    const rendered = await timeline.getByRole('option').count();
    assert.ok(rendered > 5 && rendered < 200, `${rendered} rows rendered for 10,000 events`);
    assert.equal(await timeline.getByRole('option').first().getAttribute('aria-setsize'), '10000');

    await timeline.evaluate((el) => {
      el.scrollTop = el.scrollHeight / 2;
    });
    await timeline.locator('[data-seq="5000"]').waitFor();
    assert.ok(await timeline.getByRole('option').count() < 200);

    await timeline.focus();
    await page.keyboard.press('End');
    const detail = page.locator('.event-detail');
    await detail.getByRole('heading', { name: 'Event #10000: query' }).waitFor();
    await page.keyboard.press('ArrowUp');
    await detail.getByRole('heading', { name: 'Event #9999: query' }).waitFor();
    await page.keyboard.press('Home');
    await detail.getByRole('heading', { name: 'Event #1: connect' }).waitFor();
  });

  test('a tampered audit store: the integrity page names the first bad event and links to it', async () => {
    const { sessions } = await api<{ sessions: { id: string }[] }>('/api/sessions?subject=agent&kind=select&limit=1');
    const id = sessions[0]!.id;
    const s = await api<ApiSession>(`/api/sessions/${id}`);
    const ev = s.events.find((e) => e.sql === 'SELECT COUNT(*) AS n FROM customers')!;
    // Someone with write access to the database edits what the agent ran.
    const t = sqliteTamper(join(g.dir, 'audit.db'));
    await t.editSql(id, ev.seq, 'SELECT 1');
    await t.close();

    await page.goto(`${g.apiUrl}/integrity`);
    const alert = page.getByRole('alert');
    await alert.waitFor({ timeout: 30_000 });
    const text = await alert.innerText();
    assert.match(text, /The audit trail does not verify/);
    assert.match(text, new RegExp(`event #${ev.seq} of session ${id.slice(0, 8)}`));
    assert.match(text, /edited/);
    await screenshots(page, 'integrity-tampered');
    await alert.getByRole('link').click();
    await page.waitForURL((u) => u.pathname === `/sessions/${id}` && u.searchParams.get('seq') === String(ev.seq));
    await page.locator('.event-detail').getByRole('heading', { name: `Event #${ev.seq}: query` }).waitFor();
  });

  test('the dark theme and the phone layout render the replay readably', async () => {
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.goto(`${g.apiUrl}/approvals`);
    await page.getByRole('heading', { level: 1, name: 'Approvals' }).waitFor();
    const bg = await page.evaluate<string>(BODY_BG);
    assert.equal(bg, 'rgb(17, 20, 24)', 'dark background from prefers-color-scheme');
    // The toggle overrides the system: Auto → Light.
    await page.getByRole('button', { name: /Theme: system/ }).click();
    assert.equal(await page.evaluate(BODY_BG), 'rgb(246, 247, 249)');
    await page.getByRole('button', { name: /Theme: light/ }).click();
    assert.equal(await page.evaluate(BODY_BG), 'rgb(17, 20, 24)');
    await screenshots(page, 'approvals-dark');
    await page.getByRole('button', { name: /Theme: dark/ }).click();
    await page.emulateMedia({ colorScheme: 'light' });

    await page.setViewportSize({ width: 390, height: 844 });
    const overflow = await page.evaluate<number>('document.documentElement.scrollWidth - document.documentElement.clientWidth');
    assert.ok(overflow <= 0, `no sideways scrolling at 390 px (${overflow} px too wide)`);
    await page.setViewportSize({ width: 1280, height: 800 });
  });
});

describe('OIDC sign-in to the console', () => {
  let idp: TestIssuer;
  let g: TestGateway;
  let browser: Awaited<ReturnType<typeof launch>>;
  const CLIENT = 'agentgate-console';

  before(async () => {
    ensureConsoleBuilt();
    idp = await startTestIssuer();
    g = await startTestGateway({
      yaml: (p) => defaultYaml(p).replace(
        `api:\n  listen: 127.0.0.1:${p.apiPort}\n`,
        `api:\n  listen: 127.0.0.1:${p.apiPort}\n  oidc:\n    issuer: ${idp.issuer}\n    clientId: ${CLIENT}\n    adminGroups: [dba, auditors]\n`,
      ),
    });
    assert.ok(g.config.api.oidc, 'the config carries api.oidc');
    browser = await launch();
  });

  after(async () => {
    await browser?.close();
    await g?.stop();
    await idp?.close();
  });

  test('the sign-in button runs the authorization code flow with PKCE and signs in a member of an admin group', async () => {
    idp.loginAs({ sub: 'dana', groups: ['dba'] });
    const page = await browser.context.newPage();
    await page.goto(`${g.apiUrl}/sessions`);
    const host = new URL(idp.issuer).host;
    await page.getByRole('button', { name: `Sign in with ${host}` }).click();
    await page.getByRole('heading', { level: 1, name: 'Sessions' }).waitFor({ timeout: 15_000 });
    assert.equal(new URL(page.url()).pathname, '/sessions', 'back where the sign-in started');
    assert.equal(new URL(page.url()).search, '', 'the code is gone from the address');
    assert.equal(await page.locator('.me').innerText(), 'dana');
    assert.deepEqual(idp.tokenRefusals, []);
    assert.ok(idp.requests.includes('/authorize') && idp.requests.includes('/token'));
    // The ID token works as the bearer for the live stream too.
    await page.getByRole('link', { name: 'Approvals' }).click();
    await page.getByRole('status').filter({ hasText: 'Live' }).waitFor();
    await page.close();
  });

  test('a person outside the admin groups is told so and stays signed out', async () => {
    idp.loginAs({ sub: 'eve', groups: ['dev'] });
    const page = await browser.context.newPage();
    await page.goto(g.apiUrl);
    await page.getByRole('button', { name: /^Sign in with / }).click();
    const alert = page.getByRole('alert');
    await alert.waitFor({ timeout: 15_000 });
    assert.match(await alert.innerText(), /eve is not in an admin group/);
    assert.equal(await page.evaluate(() => sessionStorage.getItem('agentgate.token')), null);
    await page.close();
  });

  test('the API takes ID tokens of the console issuer from admins only; the code exchange checks PKCE and the nonce', async () => {
    const call = (token: string) => fetch(`${g.apiUrl}/api/console/me`, { headers: { authorization: `Bearer ${token}` } });
    const ok = await call(await idp.sign({ sub: 'dana', aud: CLIENT, groups: ['auditors'] }));
    assert.equal(ok.status, 200);
    assert.deepEqual(await ok.json(), { name: 'dana', groups: ['auditors'], approver: false, approvers: ['dba'] });
    const wrongAud = await call(await idp.sign({ sub: 'dana', aud: 'someone-else', groups: ['dba'] }));
    assert.equal(wrongAud.status, 401);
    assert.match(await wrongAud.text(), /audience/);
    const notAdmin = await call(await idp.sign({ sub: 'eve', aud: CLIENT, groups: ['dev'] }));
    assert.equal(notAdmin.status, 401);
    const expired = await call(await idp.sign({ sub: 'dana', aud: CLIENT, groups: ['dba'], exp: Math.floor(Date.now() / 1000) - 3600 }));
    assert.equal(expired.status, 401);

    idp.loginAs({ sub: 'dana', groups: ['dba'] });
    const verifier = 'v'.repeat(43);
    const challenge = (await import('node:crypto')).createHash('sha256').update(verifier).digest('base64url');
    const codeFor = async (nonce: string) => {
      const u = new URL(`${idp.issuer}/authorize`);
      const redirectUri = `${g.apiUrl}/oidc/callback`;
      for (const [k, v] of Object.entries({ response_type: 'code', client_id: CLIENT, redirect_uri: redirectUri, state: 's', nonce, code_challenge: challenge, code_challenge_method: 'S256' })) u.searchParams.set(k, v);
      const res = await fetch(u, { redirect: 'manual' });
      return new URL(res.headers.get('location')!).searchParams.get('code')!;
    };
    const exchange = (body: Record<string, string>) => fetch(`${g.apiUrl}/api/console/oidc/token`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
    });
    const redirectUri = `${g.apiUrl}/oidc/callback`;
    const wrongVerifier = await exchange({ code: await codeFor('n1'), codeVerifier: 'w'.repeat(43), redirectUri, nonce: 'n1' });
    assert.equal(wrongVerifier.status, 401);
    assert.match(idp.tokenRefusals.at(-1)!, /code_verifier/);
    const wrongNonce = await exchange({ code: await codeFor('n2'), codeVerifier: verifier, redirectUri, nonce: 'other' });
    assert.equal(wrongNonce.status, 401);
    assert.match(await wrongNonce.text(), /nonce/);
    const good = await exchange({ code: await codeFor('n3'), codeVerifier: verifier, redirectUri, nonce: 'n3' });
    assert.equal(good.status, 200);
    const body = (await good.json()) as { token: string; name: string };
    assert.equal(body.name, 'dana');
    assert.equal((await call(body.token)).status, 200);
    const config = (await (await fetch(`${g.apiUrl}/api/console/config`)).json()) as { oidc: Record<string, unknown> };
    assert.deepEqual(config.oidc, {
      issuer: idp.issuer, clientId: CLIENT, scopes: ['openid', 'profile', 'email'], authorizationEndpoint: `${idp.issuer}/authorize`,
    });
  });
});
