import { createHash } from 'node:crypto';

/**
 * MariaDB's client_ed25519 authentication: an Ed25519 signature of the server's 32-byte nonce, where the secret
 * scalar and prefix come from SHA-512 of the whole password (standard Ed25519 hashes a 32-byte seed instead, which
 * is why node:crypto's Ed25519 keys cannot be used). Plain BigInt arithmetic on the twisted Edwards curve; this runs
 * once per upstream login, so clarity wins over speed.
 */

const P = 2n ** 255n - 19n;
const L = 2n ** 252n + 27742317777372353535851937790883648493n;

function mod(a: bigint, m = P): bigint {
  const r = a % m;
  return r >= 0n ? r : r + m;
}

function pow(b: bigint, e: bigint): bigint {
  let r = 1n;
  let x = mod(b);
  while (e > 0n) {
    if (e & 1n) r = mod(r * x);
    x = mod(x * x);
    e >>= 1n;
  }
  return r;
}

const inv = (x: bigint) => pow(x, P - 2n);
const D = mod(-121665n * inv(121666n));

/** Extended coordinates (X:Y:Z:T), x = X/Z, y = Y/Z, xy = T/Z. */
type Point = [bigint, bigint, bigint, bigint];

const BY = mod(4n * inv(5n));
const BX = (() => {
  // Recover x from y: x^2 = (y^2 - 1) / (d y^2 + 1), choosing the even root.
  const y2 = BY * BY;
  const xx = mod((y2 - 1n) * inv(D * y2 + 1n));
  let x = pow(xx, (P + 3n) / 8n);
  if (mod(x * x - xx) !== 0n) x = mod(x * pow(2n, (P - 1n) / 4n));
  return x & 1n ? P - x : x;
})();
const BASE: Point = [BX, BY, 1n, mod(BX * BY)];

function add(p: Point, q: Point): Point {
  const [x1, y1, z1, t1] = p;
  const [x2, y2, z2, t2] = q;
  const a = mod((y1 - x1) * (y2 - x2));
  const b = mod((y1 + x1) * (y2 + x2));
  const c = mod(2n * D * t1 * t2);
  const d = mod(2n * z1 * z2);
  const e = b - a;
  const f = d - c;
  const g = d + c;
  const h = b + a;
  return [mod(e * f), mod(g * h), mod(f * g), mod(e * h)];
}

function scalarMult(k: bigint, p: Point): Point {
  let r: Point = [0n, 1n, 1n, 0n];
  let q = p;
  while (k > 0n) {
    if (k & 1n) r = add(r, q);
    q = add(q, q);
    k >>= 1n;
  }
  return r;
}

function encodePoint(p: Point): Buffer {
  const zi = inv(p[2]);
  const x = mod(p[0] * zi);
  const y = mod(p[1] * zi);
  const out = toLE(y, 32);
  if (x & 1n) out[31] = out[31]! | 0x80;
  return out;
}

function toLE(n: bigint, len: number): Buffer {
  const out = Buffer.alloc(len);
  for (let i = 0; i < len; i++) {
    out[i] = Number(n & 0xffn);
    n >>= 8n;
  }
  return out;
}

function fromLE(b: Buffer): bigint {
  let n = 0n;
  for (let i = b.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(b[i]!);
  return n;
}

function sha512(...parts: Buffer[]): Buffer {
  const h = createHash('sha512');
  for (const p of parts) h.update(p);
  return h.digest();
}

/** The 64-byte client_ed25519 response (R ‖ S) to the server's nonce. */
export function ed25519Response(password: string, nonce: Buffer): Buffer {
  const az = sha512(Buffer.from(password, 'utf8'));
  const a = Buffer.from(az.subarray(0, 32));
  a[0] = a[0]! & 248;
  a[31] = (a[31]! & 63) | 64;
  const scalar = fromLE(a);
  const pub = encodePoint(scalarMult(scalar, BASE));
  const r = mod(fromLE(sha512(az.subarray(32), nonce)), L);
  const R = encodePoint(scalarMult(r, BASE));
  const h = mod(fromLE(sha512(R, pub, nonce)), L);
  const s = mod(r + h * scalar, L);
  return Buffer.concat([R, toLE(s, 32)]);
}

/** The public key MariaDB stores for a password (`SELECT ed25519_password('…')` is its base64 without padding). */
export function ed25519PublicKey(password: string): Buffer {
  const az = sha512(Buffer.from(password, 'utf8'));
  const a = Buffer.from(az.subarray(0, 32));
  a[0] = a[0]! & 248;
  a[31] = (a[31]! & 63) | 64;
  return encodePoint(scalarMult(fromLE(a), BASE));
}
