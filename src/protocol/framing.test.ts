import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { PacketFramer, framePayload, MessageAssembler } from './framing.ts';
import { MAX_PACKET_PAYLOAD } from './constants.ts';
import { ProtocolError } from './errors.ts';

/** Runs every packet out of a framer fed with `chunks`, as [seq, payload hex]. */
function drain(chunks: Buffer[]): [number, string][] {
  const f = new PacketFramer();
  const out: [number, string][] = [];
  for (const c of chunks) {
    f.push(c);
    while (f.next()) out.push([f.seq, f.payload().toString('hex')]);
  }
  return out;
}

// Three packets: header (length 3, seq 0) 'abc'; header (length 0, seq 1); header (length 2, seq 2) 0xfe 0x00.
const stream = Buffer.from('03000000616263' + '00000001' + '02000002fe00', 'hex');
const expected: [number, string][] = [[0, '616263'], [1, ''], [2, 'fe00']];

test('yields the same packets whichever byte the stream is split at', () => {
  for (let i = 0; i <= stream.length; i++) {
    assert.deepEqual(drain([stream.subarray(0, i), stream.subarray(i)]), expected, `split at ${i}`);
  }
});

test('yields the same packets when every byte arrives alone', () => {
  assert.deepEqual(drain([...stream].map((b) => Buffer.from([b]))), expected);
});

test('views point into the chunk when a packet lies inside it (no copy)', () => {
  const f = new PacketFramer();
  f.push(stream);
  assert.ok(f.next());
  assert.equal(f.payload().buffer, stream.buffer);
  assert.equal(f.raw().length, 7);
});

test('random packets survive random chunking (property)', () => {
  fc.assert(
    fc.property(
      fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 20 }),
      fc.array(fc.nat(400), { maxLength: 30 }),
      (payloads, cuts) => {
        let seq = 0;
        const framed = Buffer.concat(payloads.map((p) => {
          const { bytes, nextSeq } = framePayload(Buffer.from(p), seq);
          seq = nextSeq;
          return bytes;
        }));
        const points = [...new Set(cuts.map((c) => c % (framed.length + 1)))].sort((a, b) => a - b);
        const chunks: Buffer[] = [];
        let prev = 0;
        for (const p of points) {
          chunks.push(framed.subarray(prev, p));
          prev = p;
        }
        chunks.push(framed.subarray(prev));
        const got = drain(chunks);
        assert.deepEqual(got.map((g) => g[1]), payloads.map((p) => Buffer.from(p).toString('hex')));
        assert.deepEqual(got.map((g) => g[0]), payloads.map((_p, i) => i & 0xff));
      },
    ),
  );
});

test('packets come out in order however pushes and reads interleave (property)', () => {
  // Regression: a chunk pushed after a straddling packet was read, while the rest of that packet's last chunk was
  // still queued, jumped the queue (the framer lost sync and waited forever).
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 0, max: 5000 }), { minLength: 1, maxLength: 15 }),
      fc.array(fc.integer({ min: 1, max: 7000 }), { minLength: 1, maxLength: 40 }),
      fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 40 }),
      (sizes, chunkSizes, readsAfterPush) => {
        let seq = 0;
        const framed = Buffer.concat(sizes.map((n, i) => {
          const { bytes, nextSeq } = framePayload(Buffer.alloc(n, i & 0xff), seq);
          seq = nextSeq;
          return bytes;
        }));
        const f = new PacketFramer();
        const got: number[] = [];
        let off = 0;
        let k = 0;
        while (off < framed.length) {
          const n = chunkSizes[k % chunkSizes.length]!;
          f.push(framed.subarray(off, off + n));
          off += n;
          // Read only a few packets (maybe none) before the next chunk arrives.
          for (let r = 0; r < readsAfterPush[k % readsAfterPush.length]!; r++) {
            if (!f.next()) break;
            got.push(f.len);
          }
          k++;
        }
        while (f.next()) got.push(f.len);
        assert.deepEqual(got, sizes);
      },
    ),
    { numRuns: 500 },
  );
});

test('a payload of 16 MiB - 1 is followed by an empty packet, and longer ones continue', () => {
  const exact = framePayload(Buffer.alloc(MAX_PACKET_PAYLOAD, 1), 5);
  assert.equal(exact.bytes.length, 4 + MAX_PACKET_PAYLOAD + 4);
  assert.equal(exact.nextSeq, 7);
  const longer = framePayload(Buffer.alloc(MAX_PACKET_PAYLOAD + 10, 2), 0);
  assert.equal(longer.nextSeq, 2);
  const f = new PacketFramer();
  // Arrives in 64 KiB pieces, as from a socket.
  for (let i = 0; i < longer.bytes.length; i += 65536) f.push(longer.bytes.subarray(i, i + 65536));
  const asm = new MessageAssembler(1 << 30);
  let whole: Buffer | null = null;
  const seqs: number[] = [];
  while (f.next()) {
    seqs.push(f.seq);
    whole = asm.add(f.payload()) ?? whole;
  }
  assert.deepEqual(seqs, [0, 1]);
  assert.equal(whole?.length, MAX_PACKET_PAYLOAD + 10);
  assert.equal(whole?.[MAX_PACKET_PAYLOAD + 9], 2);
});

test('a packet larger than the limit is a ProtocolError', () => {
  const f = new PacketFramer(100);
  f.push(Buffer.from('ff000000', 'hex'));
  assert.throws(() => f.next(), ProtocolError);
});

test('takeBuffered returns what was not consumed (the start of a TLS handshake)', () => {
  const f = new PacketFramer();
  f.push(Buffer.concat([stream.subarray(0, 7), Buffer.from('160301', 'hex')]));
  f.push(Buffer.from('00ff', 'hex'));
  assert.ok(f.next());
  assert.equal(f.takeBuffered().toString('hex'), '16030100ff');
  assert.equal(f.buffered, 0);
  assert.equal(f.next(), false);
});
