import { createPrivateKey, createPublicKey, hash, sign, verify, type KeyObject } from 'node:crypto';

/**
 * The tamper-evident chain: pure functions, no I/O. docs/audit-chain.md describes the same rules for people who
 * verify an export without this code; scripts/verify-export.mjs implements them again, independently.
 *
 * Every stored record (a session header or an event) is hashed over a canonical encoding and linked twice:
 *
 * - to the previous record of its *stream* (one chain per writing gateway instance, so instances sharing a
 *   PostgreSQL never take a global lock per event), by `prev`;
 * - to the previous record of its *session* (seq 0, the header, links to 32 zero bytes), by `sessPrev`, so one
 *   session can be checked on its own.
 *
 * Record hash (32 bytes):
 *
 *     hash = SHA-256( UTF-8( JSON.stringify([
 *       "agentgate.audit.v1", stream, position, hex(prev), sessionId, seq, hex(sessPrev),
 *       hex(SHA-256(UTF-8(body))), rows === null ? "" : hex(SHA-256(rows)) ])))
 *
 * where `stream` and `sessionId` are strings, `position` (1, 2, 3… within the stream) and `seq` (0 for the session
 * header, then the gateway's 1, 2, 3…) are integers, `hex` is lowercase hexadecimal, `body` is the record's content
 * as canonical JSON (below) and `rows` the captured result rows as bytes (rowsBlob). JSON.stringify of an array of
 * strings and integers is already canonical (no whitespace, the shortest escapes ECMAScript defines).
 *
 * Canonical JSON (canonicalJson): RFC 8785 (JCS) in practice: object keys sorted by UTF-16 code units, no
 * whitespace, strings and numbers as ECMAScript's JSON.stringify writes them, members whose value is undefined or a
 * function left out (as JSON.stringify does). Two deliberate differences from RFC 8785: non-finite numbers encode as
 * null (RFC 8785 rejects them) and an object with a toJSON method is encoded as what toJSON returns.
 *
 * Signed payloads (checkpoints, prune records) are canonical JSON objects too, signed with Ed25519 over their UTF-8
 * bytes.
 */

export const CHAIN_VERSION = 'agentgate.audit.v1';
export const HASH_BYTES = 32;
export const ZERO_HASH: Buffer = Buffer.alloc(HASH_BYTES);
const EMPTY = '';

/** Canonical JSON of a JSON-like value (see the module comment). Throws on a bigint, as JSON.stringify does. */
export function canonicalJson(value: unknown): string {
  // Where every object's keys already come in canonical order, the native JSON.stringify writes exactly the
  // canonical text, several times faster than `encode`. The event bodies are built that way (record.ts).
  if (typeof value === 'object' && value !== null && inCanonicalOrder(value, 0)) return JSON.stringify(value);
  return encode(value) ?? 'null';
}

const OBJECT_PROTO = Object.prototype;
const ARRAY_PROTO = Array.prototype;

/**
 * True when JSON.stringify(v) is the canonical encoding: only plain objects and arrays (no toJSON, no boxed
 * primitives, no bigint), every object's keys in the order canonical JSON sorts them. JSON.stringify writes keys in
 * Object.keys order, which puts integer-like keys first in numeric order ("9" before "10"): such an object is out of
 * order by string comparison, so it goes to `encode`. Deeply nested values go to `encode` as well.
 */
function inCanonicalOrder(v: object, depth: number): boolean {
  if (depth > 32) return false;
  const proto = Object.getPrototypeOf(v);
  if (proto === ARRAY_PROTO) {
    const a = v as unknown[];
    for (let i = 0; i < a.length; i++) {
      const x = a[i];
      if (typeof x === 'object' ? x !== null && !inCanonicalOrder(x, depth + 1) : typeof x === 'bigint') return false;
    }
    return true;
  }
  if (proto !== OBJECT_PROTO && proto !== null) return false;
  const o = v as Record<string, unknown>;
  if (typeof o.toJSON === 'function') return false;
  let prev: string | null = null;
  for (const k in o) {
    if (!Object.hasOwn(o, k)) return false;
    if (prev !== null && prev >= k) return false;
    prev = k;
    const x = o[k];
    if (typeof x === 'object' ? x !== null && !inCanonicalOrder(x, depth + 1) : typeof x === 'bigint') return false;
  }
  return true;
}

// Keys repeat endlessly (the same event fields): quote each once.
const quotedKeys = new Map<string, string>();
function quoteKey(k: string): string {
  let q = quotedKeys.get(k);
  if (q === undefined) {
    q = JSON.stringify(k);
    if (quotedKeys.size < 10_000) quotedKeys.set(k, q);
  }
  return q;
}

/** The encoding of `v`, or undefined for what JSON.stringify leaves out (undefined, functions, symbols). */
function encode(v: unknown): string | undefined {
  switch (typeof v) {
    case 'string':
      return JSON.stringify(v);
    case 'number':
      // Number-to-string is what JSON.stringify uses for finite numbers.
      return Number.isFinite(v) ? '' + v : 'null';
    case 'boolean':
      return v ? 'true' : 'false';
    case 'undefined':
    case 'function':
    case 'symbol':
      return undefined;
    case 'bigint':
      throw new TypeError('canonicalJson: a bigint cannot be encoded');
  }
  if (v === null) return 'null';
  const obj = v as Record<string, unknown> & { toJSON?: () => unknown };
  if (typeof obj.toJSON === 'function') return encode(obj.toJSON());
  if (Array.isArray(v)) {
    let out = '[';
    for (let i = 0; i < v.length; i++) {
      if (i > 0) out += ',';
      // Like JSON.stringify: an unencodable array element becomes null so positions are kept.
      out += encode(v[i]) ?? 'null';
    }
    return out + ']';
  }
  const keys = Object.keys(obj);
  for (let i = 1; i < keys.length; i++) {
    if (keys[i - 1]! > keys[i]!) {
      keys.sort();
      break;
    }
  }
  let out = '{';
  let first = true;
  for (const k of keys) {
    const x = encode(obj[k]);
    if (x === undefined) continue;
    if (first) first = false;
    else out += ',';
    out += quoteKey(k) + ':' + x;
  }
  return out + '}';
}

/**
 * The bytes stored for one result set's captured rows: for each row payload, its length as a 4-byte big-endian
 * unsigned integer, then the payload. The rows of an event are the concatenation of its result sets' segments, in
 * the order the body lists them (`result` first, then `results[0]`, `results[1]`, …).
 */
export function rowsSegment(payloads: readonly Buffer[]): Buffer {
  let size = 0;
  for (const p of payloads) size += 4 + p.length;
  const out = Buffer.allocUnsafe(size);
  let pos = 0;
  for (const p of payloads) {
    out.writeUInt32BE(p.length, pos);
    pos += 4;
    p.copy(out, pos);
    pos += p.length;
  }
  return out;
}

/** Splits a segment back into row payloads (views into `blob`, no copy). Throws when the lengths do not add up. */
export function splitRows(blob: Buffer, start: number, end: number): Buffer[] {
  const out: Buffer[] = [];
  let pos = start;
  while (pos < end) {
    if (pos + 4 > end) throw new Error('stored rows are truncated');
    const len = blob.readUInt32BE(pos);
    pos += 4;
    if (pos + len > end) throw new Error('stored rows are truncated');
    out.push(blob.subarray(pos, pos + len));
    pos += len;
  }
  return out;
}

export interface RecordLink {
  stream: string;
  position: number;
  prev: Buffer;
  sessionId: string;
  seq: number;
  sessPrev: Buffer;
}

/** The record hash defined in the module comment. `body` is the canonical JSON text; `rows` the stored bytes or null. */
export function recordHash(l: RecordLink, body: string, rows: Buffer | null): Buffer {
  const input = JSON.stringify([
    CHAIN_VERSION,
    l.stream,
    l.position,
    hexOf(l.prev),
    l.sessionId,
    l.seq,
    hexOf(l.sessPrev),
    hash('sha256', body, 'hex'),
    rows === null ? EMPTY : hash('sha256', rows, 'hex'),
  ]);
  // Hex first: hash() with a 'buffer' output takes a slow path (about 0.8 µs more per call on Node 24).
  const hex = hash('sha256', input, 'hex');
  const out = Buffer.from(hex, 'hex');
  olderHash = lastHash;
  olderHex = lastHex;
  lastHash = out;
  lastHex = hex;
  return out;
}

// The last two hashes recordHash returned, with their hex: the next record's `prev` is the last one, and its
// `sessPrev` usually one of the two, so a writer rarely turns a hash back into hex. Looked up by identity: a record
// hash is never changed once made.
let lastHash: Buffer | null = null;
let lastHex = '';
let olderHash: Buffer | null = null;
let olderHex = '';

function hexOf(b: Buffer): string {
  if (b === lastHash) return lastHex;
  if (b === olderHash) return olderHex;
  return b.toString('hex');
}

/** SHA-256 of a text, lowercase hex. */
export function sha256Hex(text: string | Buffer): string {
  return hash('sha256', text, 'hex');
}

/**
 * A checkpoint: a stream's head at some moment, signed. `prev` is sha256Hex of the previous checkpoint's payload in
 * the same stream ("" for the first) so that removing one in the middle shows. `sessions` lists the head of every
 * session that got records since the previous checkpoint, sorted by id; for a session closed in that window the entry
 * also carries its end (endedAt, endCause), which is what lets a single session's export prove it is complete.
 */
export interface CheckpointPayload {
  type: 'checkpoint';
  v: 1;
  stream: string;
  n: number;
  position: number;
  hash: string;
  prev: string;
  at: string;
  key: string;
  sessions: CheckpointSession[];
}

/** [sessionId, seq, hash hex, endedAt or null, endCause or null] */
export type CheckpointSession = [string, number, string, string | null, string | null];

/**
 * A prune record: which sessions retention removed (their contents; the hashes stay, as stubs), signed, so that
 * verify tells a legitimate prune from deleted evidence. Each entry: [sessionId, records removed, last seq].
 */
export interface PrunePayload {
  type: 'prune';
  v: 1;
  at: string;
  instance: string;
  key: string;
  policy: string;
  sessions: [string, number, number][];
}

export function encodePayload(p: CheckpointPayload | PrunePayload): string {
  return canonicalJson(p);
}

/** The id of a public key: hex SHA-256 of its raw 32 bytes (the last 32 bytes of its SPKI DER encoding). */
export function keyId(publicKey: KeyObject): string {
  const der = publicKey.export({ format: 'der', type: 'spki' });
  return sha256Hex(der.subarray(der.length - 32));
}

export function privateKeyFromPem(pem: string): KeyObject {
  const k = createPrivateKey(pem);
  if (k.asymmetricKeyType !== 'ed25519') throw new Error(`the audit signing key must be Ed25519, not ${k.asymmetricKeyType}`);
  return k;
}

export function publicKeyFromPem(pem: string): KeyObject {
  const k = createPublicKey(pem);
  if (k.asymmetricKeyType !== 'ed25519') throw new Error(`an audit public key must be Ed25519, not ${k.asymmetricKeyType}`);
  return k;
}

export function signPayload(payload: string, key: KeyObject): Buffer {
  return sign(null, Buffer.from(payload, 'utf8'), key);
}

export function verifyPayload(payload: string, signature: Buffer, key: KeyObject): boolean {
  try {
    return verify(null, Buffer.from(payload, 'utf8'), key, signature);
  } catch {
    return false;
  }
}
