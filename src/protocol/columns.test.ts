import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ColumnDefCache, decodeColumnDefinition, encodeColumnDefinition, type ColumnDefinition } from './columns.ts';

function def(name: string, o: Partial<ColumnDefinition> = {}): ColumnDefinition {
  return {
    catalog: 'def', schema: 'app', table: 't', orgTable: 't', name, orgName: name, charset: 45, length: 255,
    type: 253, flags: 0, decimals: 0, ...o,
  };
}

describe('ColumnDefCache', () => {
  test('the same bytes give the same (frozen) array; the definitions are what the bytes say', () => {
    const cache = new ColumnDefCache();
    const set = [def('id', { type: 3 }), def('email')];
    const a = cache.defs(set.map(encodeColumnDefinition));
    assert.deepEqual(a, set);
    assert.ok(Object.isFrozen(a) && Object.isFrozen(a[0]));
    assert.equal(cache.defs(set.map(encodeColumnDefinition)), a);
  });

  test('any byte that differs is another set: a name, a flag, the number of columns', () => {
    const cache = new ColumnDefCache();
    const base = [def('id'), def('email')];
    const a = cache.defs(base.map(encodeColumnDefinition));
    for (const other of [[def('id'), def('mail')], [def('id'), def('email', { flags: 1 })], [def('id')], [def('id'), def('email'), def('x')]]) {
      const b = cache.defs(other.map(encodeColumnDefinition));
      assert.notEqual(b, a);
      assert.deepEqual(b, other.map((d) => decodeColumnDefinition(encodeColumnDefinition(d))));
    }
  });

  test('keeps its own copy of the bytes: a reused read buffer does not change what it matches', () => {
    const cache = new ColumnDefCache();
    const p = encodeColumnDefinition(def('id'));
    const a = cache.defs([p]);
    p.fill(0);
    assert.equal(cache.defs([encodeColumnDefinition(def('id'))]), a);
  });

  test('packets with their headers: the payloads decide, not the sequence ids; long definitions compare in full', () => {
    const cache = new ColumnDefCache();
    const long = 'c'.repeat(200);
    const set = [def('id'), def(long, { table: long })];
    const packets = (seq: number, d = set) => d.map((x, i) => Buffer.concat([Buffer.from([0, 0, 0, seq + i]), encodeColumnDefinition(x)]));
    const a = cache.defs(packets(2), 4);
    assert.deepEqual(a, set);
    assert.equal(cache.defs(packets(5), 4), a);
    // One byte near the end of a definition longer than 256 bytes.
    const changed = [def('id'), def(long, { table: long, decimals: 1 })];
    assert.ok(encodeColumnDefinition(changed[1]!).length > 256);
    const b = cache.defs(packets(2, changed), 4);
    assert.notEqual(b, a);
    assert.equal(b[1]!.decimals, 1);
  });

  test('holds a bounded number of sets, dropping the least recently used', () => {
    const cache = new ColumnDefCache(2);
    const bytes = (n: string) => [encodeColumnDefinition(def(n))];
    const a = cache.defs(bytes('a'));
    const b = cache.defs(bytes('b'));
    assert.equal(cache.defs(bytes('a')), a); // a is now the most recent
    cache.defs(bytes('c')); // drops b
    assert.equal(cache.defs(bytes('a')), a);
    assert.notEqual(cache.defs(bytes('b')), b);
  });
});
