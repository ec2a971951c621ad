// Who an agent is: a service account proved by its secret, or an OIDC subject proved by a JWT as the password.
import type { AdminConfig, IdentityConfig, ServiceAccountConfig } from '../config/types.ts';
import { secretMatches, secretsEqual, verifyCachingSha2Password, verifyNativePassword } from './accounts.ts';
import { JwtVerifier, looksLikeJwt, type JwtVerifierOptions } from './jwt.ts';
import { LoginRefused, type Identity } from './types.ts';

export { LoginRefused } from './types.ts';
export type { Identity, Via } from './types.ts';
export { JwtVerifier, looksLikeJwt, groupsFrom, type JwtVerifierOptions, type VerifiedToken } from './jwt.ts';
export { JWKS_DEFAULTS, type FetchFn, type JwksOptions } from './jwks.ts';
export {
  secretMatches, secretsEqual, verifyCachingSha2Password, verifyNativePassword,
} from './accounts.ts';

export type IdentityVerifierOptions = JwtVerifierOptions;

export interface IdentityVerifier {
  /** The service account a MySQL user name logs in as, if any (user names are case-sensitive, as in MySQL). */
  serviceAccount(user: string): ServiceAccountConfig | undefined;
  /**
   * A cleartext password (mysql_clear_password, or caching_sha2_password's full authentication). A service
   * account's name takes its secret and nothing else; any other user name takes a JWT of a configured issuer.
   */
  verifyPassword(user: string, password: string): Promise<Identity>;
  /** mysql_native_password: service accounts only (a JWT cannot be checked from a scramble). */
  verifyNativeScramble(user: string, nonce: Buffer, scramble: Buffer): Identity;
  /** caching_sha2_password fast authentication: service accounts only. */
  verifyCachingSha2Scramble(user: string, nonce: Buffer, scramble: Buffer): Identity;
  /** The admin a bearer token belongs to, or null; takes the same time whichever admin, if any, matches. */
  verifyAdminToken(token: string): { name: string; groups: string[] } | null;
}

export function createIdentityVerifier(config: IdentityConfig, opts: IdentityVerifierOptions = {}): IdentityVerifier {
  const accounts = new Map(config.serviceAccounts.map((a) => [a.name, a]));
  const jwt = new JwtVerifier(config.oidc, opts);
  const admins: readonly AdminConfig[] = config.admins;

  const accountIdentity = (a: ServiceAccountConfig): Identity => ({ subject: a.name, groups: [...a.groups], via: 'service_account' });

  const scrambleLogin = (user: string, plugin: string, ok: (a: ServiceAccountConfig) => boolean): Identity => {
    const a = accounts.get(user);
    if (!a) {
      throw new LoginRefused(`${JSON.stringify(user)} is not a service account, and an OIDC token cannot be checked through ${plugin}: `
        + 'the gateway needs the token itself (over TLS, or caching_sha2_password with RSA)');
    }
    if (!ok(a)) throw new LoginRefused(`wrong secret for service account ${JSON.stringify(user)}`);
    return accountIdentity(a);
  };

  return {
    serviceAccount: (user) => accounts.get(user),

    async verifyPassword(user, password) {
      const a = accounts.get(user);
      if (a) {
        if (!secretMatches(a, password)) throw new LoginRefused(`wrong secret for service account ${JSON.stringify(user)}`);
        return accountIdentity(a);
      }
      if (password === '') throw new LoginRefused(`${JSON.stringify(user)} is not a service account and no password (token) was given`);
      if (!looksLikeJwt(password)) throw new LoginRefused(`${JSON.stringify(user)} is not a service account and the password is not a JWT`);
      if (config.oidc.length === 0) throw new LoginRefused(`${JSON.stringify(user)} is not a service account and no OIDC issuer is configured`);
      const t = await jwt.verify(password);
      return {
        subject: t.subject, groups: t.groups, via: 'oidc', issuer: t.issuer, tokenExpiresAt: new Date(t.expiresAt).toISOString(),
      };
    },

    verifyNativeScramble: (user, nonce, scramble) =>
      scrambleLogin(user, 'mysql_native_password', (a) => verifyNativePassword(a, nonce, scramble)),

    verifyCachingSha2Scramble: (user, nonce, scramble) =>
      scrambleLogin(user, 'caching_sha2_password fast authentication', (a) => verifyCachingSha2Password(a, nonce, scramble)),

    verifyAdminToken(token) {
      // Every token is compared, whatever matched earlier, so the time taken says nothing about which one did.
      let found: AdminConfig | undefined;
      for (const a of admins) {
        if (secretsEqual(a.token, token) && !found) found = a;
      }
      return found ? { name: found.name, groups: [...found.groups] } : null;
    },
  };
}
