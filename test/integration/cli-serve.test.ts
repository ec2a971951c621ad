// `agentgate serve --config FILE` as a child process: it serves, a stock client works through it, SIGTERM and
// SIGINT stop it gracefully with exit 0, and a bad configuration exits 2 naming the file and the key.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import mysql from 'mysql2/promise';
import { BIN, REPO, SECRETS, TOKENS, cli, cliYaml, rsaKeyFile, upstreamAccount, type Upstream, type YamlParts } from '../helpers/cli.ts';
import { freePort } from '../helpers/ports.ts';
import { untilRunning } from '../helpers/mariadb.ts';

interface Served {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function serve(configFile: string, env: Record<string, string>): Served {
  const child = spawn(process.execPath, [BIN, 'serve', '--config', configFile], {
    cwd: REPO, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => { out += d; });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => { err += d; });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.on('exit', (code, signal) => r({ code, signal })));
  return { child, stdout: () => out, stderr: () => err, exited };
}

async function until(s: Served, re: RegExp, ms = 30_000): Promise<RegExpMatchArray> {
  const end = Date.now() + ms;
  for (;;) {
    const m = re.exec(s.stdout());
    if (m) return m;
    if (s.child.exitCode !== null || Date.now() > end) throw new Error(`no ${re} (exit ${s.child.exitCode})\nstdout: ${s.stdout()}\nstderr: ${s.stderr()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('agentgate serve', () => {
  const dir = mkdtempSync(join(tmpdir(), 'agentgate-cli-serve-'));
  let upstream: Upstream;
  let parts: YamlParts;
  let configFile: string;
  let env: Record<string, string>;

  before(async () => {
    upstream = await upstreamAccount();
    parts = { targetPort: await freePort(), apiPort: await freePort(), upstream, dir, rsaKey: rsaKeyFile() };
    configFile = join(dir, 'agentgate.yaml');
    writeFileSync(configFile, cliYaml(parts));
    env = { UPSTREAM_PASSWORD: upstream.password };
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    test(`serves, then ${signal} lets the statement in flight finish and exits 0`, async () => {
      const s = serve(configFile, env);
      try {
        await until(s, /agentgate: API on (http:\/\/\S+)/);
        assert.match(s.stdout(), new RegExp(`agentgate: target app on 127\\.0\\.0\\.1:${parts.targetPort} \\(upstream ${upstream.host}:${upstream.port}\\)`));
        // The process that was started is the one serving (so its signals reach the gateway), with V8's young
        // generation capped.
        const cmdline = readFileSync(`/proc/${s.child.pid}/cmdline`, 'utf8').split('\0');
        assert.ok(cmdline.includes('--max-semi-space-size=8'), cmdline.join(' '));
        const health = await fetch(`http://127.0.0.1:${parts.apiPort}/healthz`);
        assert.equal(health.status, 200);
        assert.equal(((await health.json()) as { ok: boolean }).ok, true);
        const c = await mysql.createConnection({ host: '127.0.0.1', port: parts.targetPort, user: 'agent', password: SECRETS.agent, database: upstream.database });
        const [rows] = await c.query('SELECT 41 + 1 AS answer');
        assert.deepEqual(rows, [{ answer: 42 }]);
        // A statement in flight when the signal comes completes before the gateway goes.
        const SLOW = `SELECT SLEEP(1.5) AS slept /* ${signal} */`;
        const slow = c.query(SLOW);
        await untilRunning(upstream, SLOW);
        const t0 = Date.now();
        s.child.kill(signal);
        const [slept] = await slow;
        assert.deepEqual(slept, [{ slept: 0 }]);
        const { code } = await s.exited;
        assert.equal(code, 0, s.stderr());
        assert.ok(Date.now() - t0 < 12_000);
        assert.match(s.stdout(), /agentgate: stopped\n$/);
        assert.match(s.stderr(), new RegExp(`agentgate: ${signal}: stopping`));
        await c.end().catch(() => {});
        // The session was recorded and flushed: a fresh gateway on the same store lists it.
        const again = serve(configFile, env);
        try {
          await until(again, /agentgate: API on/);
          const list = await cli(['sessions', 'list', '--config', configFile, '--json'], { AGENTGATE_TOKEN: TOKENS.alice });
          assert.equal(list.code, 0, list.stderr);
          const sessions = JSON.parse(list.stdout).sessions as { endedAt: string | null; statements: number }[];
          assert.ok(sessions.length >= 1);
          assert.ok(sessions[0]!.endedAt, 'the session was closed by the shutdown');
          assert.equal(sessions[0]!.statements, 2);
        } finally {
          again.child.kill('SIGTERM');
          assert.equal((await again.exited).code, 0);
        }
      } finally {
        if (s.child.exitCode === null) s.child.kill('SIGKILL');
      }
    });
  }

  test('a bad configuration exits 2, naming the file, the key and the problem', async () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, cliYaml(parts).replace(`listen: 127.0.0.1:${parts.targetPort}`, 'listen: 127.0.0.1:99999'));
    const r = await cli(['serve', '--config', bad], env);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /bad\.yaml: targets\[0\]\.listen: "127\.0\.0\.1:99999" is not a host:port \(port must be 1-65535\)/);
    const noEnv = await cli(['serve', '--config', configFile], {});
    assert.equal(noEnv.code, 2);
    assert.match(noEnv.stderr, /agentgate\.yaml: targets\[0\]\.upstream\.password: environment variable UPSTREAM_PASSWORD is not set/);
    assert.ok(!noEnv.stderr.includes(upstream.password));
    const none = await cli(['serve'], env);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /required option '--config <file>' not specified/);
  });

  test('a listen address in use is an operational failure: exit 1', async () => {
    const first = serve(configFile, env);
    try {
      await until(first, /agentgate: API on/);
      const r = await cli(['serve', '--config', configFile], env);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /the gateway could not start: target "app": cannot listen on 127\.0\.0\.1:\d+/);
    } finally {
      first.child.kill('SIGTERM');
      await first.exited;
    }
  });
});
