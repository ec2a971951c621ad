// Service accounts: the gateway knows each secret in clear (it is in the config), so it can check a cleartext
// password, a mysql_native_password scramble or a caching_sha2_password scramble, always in constant time.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { ServiceAccountConfig } from '../config/types.ts';
// The scramble arithmetic is the protocol's (one implementation for both sides of the wire).
import { cachingSha2Scramble, nativeScramble } from '../protocol/auth.ts';

function sha256(data: Buffer): Buffer {
  return createHash('sha256').update(data).digest();
}

/**
 * Equality of two strings in time that depends on neither: both are hashed first, so even their lengths stay
 * hidden from a timing observer.
 */
export function secretsEqual(a: string, b: string): boolean {
  return timingSafeEqual(sha256(Buffer.from(a, 'utf8')), sha256(Buffer.from(b, 'utf8')));
}

export function secretMatches(account: ServiceAccountConfig, password: string): boolean {
  return secretsEqual(account.secret, password);
}

/** mysql_native_password: does `scramble` prove knowledge of the account's secret for this nonce? */
export function verifyNativePassword(account: ServiceAccountConfig, nonce: Buffer, scramble: Buffer): boolean {
  const expected = nativeScramble(account.secret, nonce);
  return scramble.length === expected.length && expected.length > 0 && timingSafeEqual(scramble, expected);
}

/**
 * caching_sha2_password fast authentication. A MySQL server needs a cached hash for it; the gateway knows the
 * secret, so it always works for service accounts, without TLS or the RSA exchange.
 */
export function verifyCachingSha2Password(account: ServiceAccountConfig, nonce: Buffer, scramble: Buffer): boolean {
  const expected = cachingSha2Scramble(account.secret, nonce);
  return scramble.length === expected.length && expected.length > 0 && timingSafeEqual(scramble, expected);
}
