// Result rows stream through: a 100 MB result reaches a slow client while the gateway process (`agentgate serve`,
// a real child process) grows its resident memory by less than 64 MB. Backpressure holds the server instead.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import mysql from 'mysql2';
import { writeTestConfig, repoRoot, type WrittenConfig } from '../helpers/gateway.ts';
import { waitForPort } from '../helpers/ports.ts';

function status(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m![1]) * 1024;
}

describe('streaming a large result', () => {
  let cfg: WrittenConfig;
  let child: ChildProcess;

  before(async () => {
    cfg = await writeTestConfig();
    child = spawn(process.execPath, [...(process.env.GW_NODE_FLAGS ? process.env.GW_NODE_FLAGS.split(' ') : []), join(repoRoot, 'bin', 'agentgate.js'), 'serve', '--config', cfg.configFile], {
      env: { ...process.env, ...cfg.env },
      stdio: ['ignore', process.env.GW_NODE_FLAGS ? 'inherit' : 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    child.on('exit', (code) => {
      if (code && code !== 0) process.stderr.write(`gateway exited ${code}: ${stderr}\n`);
    });
    await waitForPort('127.0.0.1', cfg.parts.ports.app!, 30_000);
  });

  after(async () => {
    if (child && child.exitCode === null) {
      const done = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await done;
    }
    rmSync(cfg.dir, { recursive: true, force: true });
  });

  test('100 MB to a slow reader: every row arrives, the gateway grows by less than 64 MB', { timeout: 300_000 }, async (t) => {
    const conn = mysql.createConnection({ host: '127.0.0.1', port: cfg.parts.ports.app!, user: 'ci', password: 'ci-secret-0123456789' });
    const q = (sql: string) => new Promise<unknown>((res, rej) => conn.query(sql, (e, r) => (e ? rej(e) : res(r))));
    await q('SELECT 1');
    const pid = child.pid!;
    const baseline = status(pid, 'VmRSS');
    // Reset the peak so it measures this stream only (Linux: "5" clears VmHWM).
    writeFileSync(`/proc/${pid}/clear_refs`, '5');

    const rowsWanted = 100_000;
    let rows = 0;
    let bytes = 0;
    await new Promise<void>((resolve, reject) => {
      const stream = conn.query(`SELECT seq, REPEAT('x', 1000) AS pad FROM mysql.seq_1_to_${rowsWanted}`).stream({ highWaterMark: 16 });
      stream.on('data', (row: { seq: number; pad: string }) => {
        rows++;
        bytes += row.pad.length;
        // A slow reader: pause now and then so the gateway has to hold the server back rather than buffer.
        if (rows % 2000 === 0) {
          stream.pause();
          setTimeout(() => stream.resume(), 20);
        }
      });
      stream.on('end', () => resolve());
      stream.on('error', reject);
    });
    const peak = status(pid, 'VmHWM');
    conn.end();
    assert.equal(rows, rowsWanted);
    assert.ok(bytes >= 100_000_000, `${bytes} bytes`);
    const growth = peak - baseline;
    t.diagnostic(`gateway resident memory: baseline ${(baseline / 1048576).toFixed(1)} MB, peak ${(peak / 1048576).toFixed(1)} MB, growth ${(growth / 1048576).toFixed(1)} MB`);
    assert.ok(growth < 64 * 1024 * 1024, `gateway grew by ${(growth / 1048576).toFixed(1)} MB (baseline ${(baseline / 1048576).toFixed(1)} MB, peak ${(peak / 1048576).toFixed(1)} MB)`);
  });
});
