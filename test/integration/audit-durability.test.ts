// Durability of the embedded store: a child process appends as fast as it can and prints each acknowledged seq;
// it is killed with SIGKILL mid-way; every event it saw acknowledged must be in the file, and the chain intact.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { openAuditStore } from '../../src/audit/index.ts';

const tmp = mkdtempSync(join(tmpdir(), 'agentgate-durable-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const index = join(import.meta.dirname, '../../src/audit/index.ts');
const testing = join(import.meta.dirname, '../helpers/audit.ts');

const CHILD = `
import { openAuditStore } from ${JSON.stringify(index)};
import { selectEvent, sessionStart } from ${JSON.stringify(testing)};
const [path, fsync] = process.argv.slice(1);
const s = openAuditStore('sqlite:' + path, { instanceId: 'child', fsync: fsync === 'true', checkpointEvery: 500 });
await s.init();
await s.openSession(sessionStart('durable'));
let seq = 0;
// Sixteen writers at once, like sixteen client connections: batches of several events per commit.
async function writer() {
  for (;;) {
    const n = ++seq;
    await s.append(selectEvent('durable', n));
    process.stdout.write('ack ' + n + '\\n');
  }
}
for (let i = 0; i < 16; i++) writer();
`;

for (const fsync of [false, true]) {
  test(`kill -9 loses no acknowledged event (fsync: ${fsync})`, async () => {
    const path = join(tmp, `durable-${fsync}.db`);
    const child = spawn(process.execPath, ['--input-type=module', '-e', CHILD, path, String(fsync)], { stdio: ['ignore', 'pipe', 'inherit'] });
    const acked = new Set<number>();
    let tail = '';
    // Without fsync, 8,000 events of about 500 bytes take the journal through several rounds of its two files (1 MiB
    // each): the replay reads a file written over as well as the other.
    const target = fsync ? 300 : 8000;
    await new Promise<void>((resolve, reject) => {
      child.on('error', reject);
      child.on('exit', (code, signal) => (signal === 'SIGKILL' ? resolve() : reject(new Error(`child exited early: ${code ?? signal}`))));
      child.stdout.on('data', (d: Buffer) => {
        const lines = (tail + d.toString()).split('\n');
        tail = lines.pop()!;
        for (const l of lines) if (l.startsWith('ack ')) acked.add(Number(l.slice(4)));
        if (acked.size >= target && !child.killed) child.kill('SIGKILL');
      });
    });
    assert.ok(acked.size >= target);
    const store = openAuditStore(`sqlite:${path}`, { instanceId: 'reader' });
    await store.init();
    try {
      const s = await store.getSession('durable');
      const stored = new Set(s!.events.map((e) => e.seq));
      const lost = [...acked].filter((n) => !stored.has(n));
      assert.deepEqual(lost, [], `${lost.length} acknowledged events are missing`);
      // More may be stored than was acknowledged (committed, killed before printing): never fewer.
      assert.ok(stored.size >= acked.size);
      const v = await store.verify();
      assert.equal(v.ok, true, v.problem);
      assert.equal(v.events, stored.size);
    } finally {
      await store.close();
    }
  });
}
