import { generateKeyPair, generateKeyPairSync, createPrivateKey, createPublicKey, randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync, renameSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Config } from '../config/types.ts';
import { rsaDecryptKey } from '../protocol/auth.ts';
import type { RsaKey } from './login.ts';

/**
 * Key material the gateway makes for itself on first start and keeps in `dataDir` (mode 0600): the RSA key of the
 * caching_sha2_password exchange, the Ed25519 key that signs audit checkpoints, the masking hash key, and the
 * instance id. A configured file always wins.
 */

function writeSecret(path: string, data: string | Buffer): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, data, { mode: 0o600 });
  renameSync(tmp, path);
}

/** 8192 bits: the RSA exchange carries the password in one OAEP block, and a JWT of up to ~980 bytes must fit. */
export const RSA_BITS = 8192;

export async function loadRsaKey(config: Config): Promise<RsaKey> {
  const path = config.identity.rsaKey ?? join(config.dataDir, 'rsa-key.pem');
  let pem: string;
  if (existsSync(path)) {
    pem = readFileSync(path, 'utf8');
  } else {
    pem = await new Promise<string>((resolve, reject) =>
      generateKeyPair('rsa', { modulusLength: RSA_BITS, privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } },
        (err, _pub, priv) => (err ? reject(err) : resolve(priv))),
    );
    writeSecret(path, pem);
  }
  const privateKey = createPrivateKey(pem);
  const publicKey = createPublicKey(privateKey);
  const bits = privateKey.asymmetricKeyDetails?.modulusLength ?? RSA_BITS;
  return { privateKey, decryptKey: await rsaDecryptKey(privateKey), publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(), size: bits / 8 };
}

export function loadSigningKey(config: Config): string {
  const path = config.audit.signingKey ?? join(config.dataDir, 'signing-key.pem');
  if (existsSync(path)) return readFileSync(path, 'utf8');
  const pem = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  writeSecret(path, pem);
  return pem;
}

export function loadHashKey(config: Config): Buffer {
  if (config.masking.hashKey) return Buffer.from(config.masking.hashKey, 'utf8');
  const path = join(config.dataDir, 'hash-key');
  if (existsSync(path)) return Buffer.from(readFileSync(path, 'utf8').trim(), 'hex');
  const key = randomBytes(32);
  writeSecret(path, key.toString('hex') + '\n');
  return key;
}

/** A stable id for this gateway installation (its pending approvals are expired when it restarts). */
export function loadInstanceId(config: Config): string {
  const path = join(config.dataDir, 'instance-id');
  if (existsSync(path)) return readFileSync(path, 'utf8').trim();
  const id = randomUUID();
  writeSecret(path, id + '\n');
  return id;
}
