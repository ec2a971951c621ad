// `npx agentgate demo --once`, as the README's first set-up command runs it: with the machine's own npx and Node
// (which the entry point hands over to the Node 24 that `npm ci` installed), against a MariaDB, the whole tour.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { BIN, REPO } from '../helpers/cli.ts';
import { freePort } from '../helpers/ports.ts';
import { testMariaDB } from '../helpers/mariadb.ts';

const dir = mkdtempSync(join(tmpdir(), 'agentgate-demo-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('npx agentgate demo --once: masked read, denial, approval, oracle refusal, replay; exits 0', { timeout: 180_000 }, async (t) => {
  const srv = await testMariaDB();
  const [port, apiPort] = [await freePort(), await freePort()];
  const args = ['demo', '--once', '--port', String(port), '--api-port', String(apiPort), '--dir', dir];
  // The machine's npx and Node where there are (a user's shell, without node_modules/.bin on the PATH).
  const systemNpx = ['/usr/bin/npx', '/usr/local/bin/npx'].find(existsSync);
  const [cmd, argv, path] = systemNpx
    ? [systemNpx, ['--no-install', 'agentgate', ...args], '/usr/local/bin:/usr/bin:/bin']
    : [process.execPath, [BIN, ...args], process.env.PATH ?? ''];
  t.diagnostic(`${cmd} ${argv.join(' ')}`);
  const child = spawn(cmd, argv, {
    cwd: REPO,
    env: { PATH: path, HOME: process.env.HOME ?? '', DEMO_MYSQL_URL: `mysql://root@${srv.host}:${srv.port}` },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; });
  child.stderr.setEncoding('utf8').on('data', (d: string) => { err += d; });
  const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
  assert.equal(code, 0, `the demo failed\nstdout: ${out}\nstderr: ${err}`);
  assert.match(out, new RegExp(`agents connect to 127\\.0\\.0\\.1:${port}`));
  assert.match(out, /1\. The agent reads customers/);
  // The tour's reads come back masked: no SSN, e-mail address or card number of the demo data is printed.
  for (const secret of ['123-45-6789', '234-56-7890', 'ada@example.com', '4111 1111 1111 1111', '5555 5555 5555 4444']) {
    assert.ok(!out.includes(secret), `${secret} reached the demo's output`);
  }
  assert.match(out, /2\. The agent tries to empty the payments table[^\n]*\n\s+ERROR \d+: agentgate: /);
  assert.match(out, /approved by demo-approver; the agent's UPDATE completed: 1 row changed/);
  assert.match(out, /4\. The agent tries to guess a masked value[^\n]*\n\s+ERROR \d+: agentgate: /);
  assert.match(out, /The session as recorded, replayed/);
  assert.match(out, /DELETE FROM payments/);
});
