import { createHash, constants, publicEncrypt, webcrypto, type KeyObject } from 'node:crypto';

/** Authentication plugin arithmetic, both sides. Pure functions of passwords, nonces and keys. */

export const Plugin = {
  NATIVE: 'mysql_native_password',
  CACHING_SHA2: 'caching_sha2_password',
  CLEAR: 'mysql_clear_password',
  SHA256: 'sha256_password',
  ED25519: 'client_ed25519',
} as const;

/** caching_sha2_password AuthMoreData status bytes, and the client's "send me the public key" request. */
export const Sha2 = {
  REQUEST_PUBLIC_KEY: 0x02,
  FAST_AUTH_SUCCESS: 0x03,
  PERFORM_FULL_AUTHENTICATION: 0x04,
} as const;

function sha1(...parts: Buffer[]): Buffer {
  const h = createHash('sha1');
  for (const p of parts) h.update(p);
  return h.digest();
}

function sha256(...parts: Buffer[]): Buffer {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
}

function xor(a: Buffer, b: Buffer): Buffer {
  const out = Buffer.allocUnsafe(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! ^ b[i % b.length]!;
  return out;
}

/** mysql_native_password: SHA1(pw) XOR SHA1(nonce + SHA1(SHA1(pw))). Empty password → empty response. */
export function nativeScramble(password: string, nonce: Buffer): Buffer {
  if (password === '') return Buffer.alloc(0);
  const h1 = sha1(Buffer.from(password, 'utf8'));
  const h2 = sha1(h1);
  return xor(h1, sha1(nonce.subarray(0, 20), h2));
}

/** caching_sha2_password fast-path scramble: SHA256(pw) XOR SHA256(SHA256(SHA256(pw)) + nonce). */
export function cachingSha2Scramble(password: string, nonce: Buffer): Buffer {
  if (password === '') return Buffer.alloc(0);
  const h1 = sha256(Buffer.from(password, 'utf8'));
  const h2 = sha256(h1);
  return xor(h1, sha256(h2, nonce.subarray(0, 20)));
}

/**
 * The RSA exchange of caching_sha2_password / sha256_password on plaintext connections: the client XORs
 * `password\0` with the nonce and encrypts it with the server's public key (OAEP padding).
 */
export function rsaEncryptPassword(password: string, nonce: Buffer, publicKey: string | KeyObject): Buffer {
  const plain = xor(Buffer.from(password + '\0', 'utf8'), nonce.subarray(0, 20));
  return publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING }, plain);
}

/** The private key in the form `rsaDecryptPassword` takes (WebCrypto RSA-OAEP with SHA-1, as MySQL clients pad). */
export function rsaDecryptKey(privateKey: KeyObject): Promise<webcrypto.CryptoKey> {
  return webcrypto.subtle.importKey('pkcs8', privateKey.export({ type: 'pkcs8', format: 'der' }), { name: 'RSA-OAEP', hash: 'SHA-1' }, false, ['decrypt']);
}

/**
 * The server side of the RSA exchange; returns the password. Rejects if the ciphertext does not decrypt. The
 * decryption (tens of milliseconds with the 8192-bit key a JWT needs) runs on the thread pool, never on the event loop
 * that serves every other session.
 */
export async function rsaDecryptPassword(cipher: Buffer, nonce: Buffer, key: webcrypto.CryptoKey): Promise<string> {
  const plain = xor(Buffer.from(await webcrypto.subtle.decrypt({ name: 'RSA-OAEP' }, key, cipher)), nonce.subarray(0, 20));
  let end = plain.length;
  if (end > 0 && plain[end - 1] === 0) end--;
  return plain.subarray(0, end).toString('utf8');
}

/** Cleartext passwords (mysql_clear_password, caching_sha2 over TLS) arrive NUL-terminated. */
export function cleartextPassword(data: Buffer): string {
  let end = data.length;
  if (end > 0 && data[end - 1] === 0) end--;
  return data.subarray(0, end).toString('utf8');
}
