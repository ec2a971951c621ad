import { createHmac, hash } from 'node:crypto';

/**
 * What a masked value looks like, per style:
 * - `redact`: the fixed marker `****`, whatever the value (its length is not revealed).
 * - `partial`: enough to recognise the value, not to use it: the last 4 digits of a card, SSN or phone number
 *   (other digits become `*`, separators stay: `***-**-6789`), the first letter and the domain of an email
 *   (`j***@example.com`), otherwise the first and last character around `****` (`A****z`); values shorter than
 *   5 characters become `****`.
 * - `hash`: HMAC-SHA256 of the value's bytes under the deployment's hash key, first 96 bits in base64url
 *   (16 characters, e.g. `Xr3kq0ZpT7b1mN8w`). Equal values give equal hashes within a deployment, so joins and
 *   GROUP BY on the client side still line up; without the key the value cannot be recovered or guessed offline.
 * - `null`: SQL NULL.
 * Where a value must stay a number (a detector match in an integer cell, or a bare number inside JSON), the same
 * styles give numbers: `redact` 0, `partial` the last four digits (`4111111111111111` → 1111), `hash` a keyed
 * number with fewer digits than the original (so it fits the column's type).
 */

export const REDACTED = '****';

/** Shared read-only marker bytes; the row codecs copy replacements, never write into them. */
export const REDACTED_BYTES: Buffer = Buffer.from(REDACTED, 'latin1');

/**
 * The deployment's hash key, prepared once: HMAC-SHA256 (RFC 2104) is SHA-256((K ^ opad) || SHA-256((K ^ ipad) || m)),
 * and the two padded key blocks never change.
 */
export class HashKey {
  readonly key: Buffer;
  readonly ipad: Buffer;
  readonly opad: Buffer;

  constructor(key: Buffer) {
    this.key = key;
    // Keys longer than the block are hashed first, as RFC 2104 says.
    const k = key.length > 64 ? hash('sha256', key, 'buffer') : key;
    this.ipad = Buffer.alloc(64, 0x36);
    this.opad = Buffer.alloc(64, 0x5c);
    for (let i = 0; i < k.length; i++) {
      this.ipad[i] = k[i]! ^ 0x36;
      this.opad[i] = k[i]! ^ 0x5c;
    }
  }
}

/** Values up to this size are hashed through the scratch buffer; longer ones go through createHmac. */
const SCRATCH = 1024;

/**
 * HMAC-SHA256 for short values. `createHmac` sets up an OpenSSL context per call, which on Node 24 / OpenSSL 3
 * costs about 17 µs; two one-shot `crypto.hash` calls over a reused buffer cost about 2.5 µs. One hasher per
 * masker: its scratch buffer is its own.
 */
export class KeyedHasher {
  private readonly k: HashKey;
  private inner: Buffer | null = null;
  private outer: Buffer | null = null;

  constructor(k: HashKey) {
    this.k = k;
  }

  digest(data: Uint8Array): Buffer {
    if (data.length > SCRATCH) return createHmac('sha256', this.k.key).update(data).digest();
    if (this.inner === null || this.outer === null) {
      this.inner = Buffer.allocUnsafe(64 + SCRATCH);
      this.k.ipad.copy(this.inner, 0);
      this.outer = Buffer.allocUnsafe(96);
      this.k.opad.copy(this.outer, 0);
    }
    this.inner.set(data, 64);
    const ih = hash('sha256', this.inner.subarray(0, 64 + data.length), 'buffer');
    ih.copy(this.outer, 64);
    return hash('sha256', this.outer, 'buffer');
  }
}

/** The `hash` style's text: 16 base64url characters. */
export function hashToken(h: KeyedHasher, data: Uint8Array): string {
  return h.digest(data).toString('base64url', 0, 12);
}

/** A keyed number of at most `digits` digits (at least 1), for cells that must stay numeric. */
export function hashNumber(h: KeyedHasher, data: Uint8Array, digits: number): bigint {
  const v = h.digest(data).readBigUInt64BE(0);
  return v % 10n ** BigInt(Math.max(1, Math.min(18, digits)));
}

function isDigitCode(c: number): boolean {
  return c >= 48 && c <= 57;
}

/** Every digit but the last four becomes `*`; separators stay. Four digits or fewer: all hidden. */
export function partialDigits(s: string): string {
  let total = 0;
  for (let i = 0; i < s.length; i++) if (isDigitCode(s.charCodeAt(i))) total++;
  const keep = total > 4 ? 4 : 0;
  let seen = 0;
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (isDigitCode(c)) {
      seen++;
      out += seen > total - keep ? s[i] : '*';
    } else out += s[i];
  }
  return out;
}

/** partialDigits of the ASCII bytes v[s, e), written over them (a value with more than four digits). */
export function starDigits(v: Uint8Array, s: number, e: number): void {
  let keep = 4;
  for (let i = e - 1; i >= s; i--) {
    if (!isDigitCode(v[i]!)) continue;
    if (keep > 0) keep--;
    else v[i] = 42;
  }
}

/** First letter of the local part, then the domain: `jane.doe@example.com` → `j***@example.com`. */
export function partialEmail(s: string): string {
  const at = s.lastIndexOf('@');
  if (at <= 0) return partialEnds(s);
  const first = String.fromCodePoint(s.codePointAt(0)!);
  return `${first}***${s.slice(at)}`;
}

/** First and last character around `****`; fewer than 5 characters: `****`. */
export function partialEnds(s: string): string {
  const cps = Array.from(s);
  if (cps.length < 5) return REDACTED;
  return `${cps[0]}${REDACTED}${cps[cps.length - 1]}`;
}

/** A private key block keeps its BEGIN and END lines: `-----BEGIN RSA PRIVATE KEY-----****-----END RSA PRIVATE KEY-----`. */
export function partialPem(s: string): string {
  const headEnd = s.indexOf('-----', 5);
  const head = headEnd > 0 ? s.slice(0, headEnd + 5) : s.slice(0, 5);
  const footStart = s.lastIndexOf('-----END');
  const foot = footStart > 0 ? s.slice(footStart) : '';
  return `${head}${REDACTED}${foot}`;
}

const EMAIL_SHAPE = /^[^@\s]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$/;

/** The separators phone numbers, cards, SSNs and dates use: space - + ( ) . / : */
function isDigitSeparator(c: number): boolean {
  return c === 32 || c === 45 || c === 43 || c === 40 || c === 41 || c === 46 || c === 47 || c === 58;
}

/** Digits a digit-heavy value holds at least. */
const DIGIT_HEAVY_MIN = 7;

/** Digits with the separators phone numbers, cards, SSNs and dates use, and nothing else. */
function digitHeavy(s: string): boolean {
  let digits = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (isDigitCode(c)) digits++;
    else if (!isDigitSeparator(c)) return false;
  }
  return digits >= DIGIT_HEAVY_MIN;
}

/**
 * digitHeavy of the ASCII bytes v[s, e), a value read straight off a row: `partialAuto` of such a value is its
 * `partialDigits`, which keeps its length.
 */
export function digitHeavyBytes(v: Uint8Array, s: number, e: number): boolean {
  let digits = 0;
  for (let i = s; i < e; i++) {
    const c = v[i]!;
    if (isDigitCode(c)) digits++;
    else if (!isDigitSeparator(c)) return false;
  }
  return digits >= DIGIT_HEAVY_MIN;
}

/**
 * `partial` for a masked column, whose kind of content is not declared: judged from the value. An email keeps its
 * first letter and domain, a number-like value (card, SSN, phone, date) its last four digits, anything else its
 * first and last character.
 */
export function partialAuto(s: string): string {
  if (s.length <= 320 && s.includes('@') && EMAIL_SHAPE.test(s)) return partialEmail(s);
  if (digitHeavy(s)) return partialDigits(s);
  return partialEnds(s);
}
