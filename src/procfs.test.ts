import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { readStat } from './procfs.ts';

test('readStat: fields start after the last parenthesis, whatever the command name holds', () => {
  const dir = mkdtempSync(join(tmpdir(), 'agentgate-procfs-'));
  try {
    const path = join(dir, 'stat');
    // A thread may name itself anything: spaces and parentheses included.
    writeFileSync(path, '4242 (a b) (c)) S 1 4242 4242 0 -1 4194560 10 0 0 0 7 3 0 0 20 0 5 0 987654 0 0\n');
    const { name, fields } = readStat(path);
    assert.equal(name, 'a b) (c)');
    assert.equal(fields[0], 'S'); // state, field 3 of proc(5)
    assert.equal(fields[11], '7'); // utime, field 14
    assert.equal(fields[12], '3'); // stime, field 15
    assert.equal(fields[19], '987654'); // starttime, field 22
    assert.equal(fields.at(-1), '0'); // the line's newline is not part of its last field
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('readStat: this process, running', { skip: process.platform !== 'linux' }, () => {
  const { fields } = readStat('/proc/self/stat');
  assert.equal(fields[0], 'R');
  assert.equal(Number(fields[16]) >= -20 && Number(fields[16]) <= 19, true); // nice
});

test('readStat: a process that does not exist throws', () => {
  assert.throws(() => readStat('/proc/0/stat'));
});
