// Shared by the config tests: an in-memory file system holding real certificates, and a minimal valid config to
// break one key at a time.
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { stringify } from 'yaml';
import { testCerts } from './certs.ts';
import { ConfigError } from '../../src/config/errors.ts';
import { parseConfig } from '../../src/config/load.ts';
import type { Env } from '../../src/config/env.ts';

export const DIR = '/cfg';
export const FILE = '/cfg/config.yaml';

/** `/cfg/certs/…` backed by the test CA's real files; anything else does not exist. */
export function memFiles(): (p: string) => string {
  const certs = testCerts();
  const files: Record<string, string> = {
    '/cfg/certs/gateway.pem': readFileSync(certs.cert, 'utf8'),
    '/cfg/certs/gateway-key.pem': readFileSync(certs.key, 'utf8'),
    '/cfg/certs/ca.pem': readFileSync(certs.ca, 'utf8'),
    '/cfg/certs/other-ca.pem': readFileSync(certs.otherCa, 'utf8'),
    '/cfg/certs/not-a-cert.pem': 'hello\n',
    '/cfg/keys/ed25519.pem': pem(generateKeyPairSync('ed25519').privateKey),
    '/cfg/keys/rsa-1024.pem': pem(generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey),
  };
  return (p) => {
    const f = files[p];
    if (f === undefined) throw Object.assign(new Error(`ENOENT: no such file or directory, open '${p}'`), { code: 'ENOENT' });
    return f;
  };
}

/** Plain YAML-shaped data that tests poke into. */
function pem(key: import('node:crypto').KeyObject): string {
  return key.export({ type: 'pkcs8', format: 'pem' }).toString();
}

export type Raw = Record<string, any>;

export function baseConfig(): Raw {
  return {
    targets: [{ name: 'app', listen: '127.0.0.1:3307', upstream: { host: '127.0.0.1', user: 'gw_app', password: 'pw' } }],
    identity: { serviceAccounts: [{ name: 'ci', secret: 's3cret-value-123', groups: ['ci'] }] },
    policies: [{ name: 'ci', groups: ['ci'], targets: ['app'] }],
  };
}

/** The problems of the base config after `edit`, without the `/cfg/config.yaml: ` every line starts with. */
export function problemsOf(edit: (c: Raw) => void, env: Env = {}): string[] {
  const c = baseConfig();
  edit(c);
  return problemsOfText(stringify(c), env);
}

export function problemsOfText(text: string, env: Env = {}): string[] {
  try {
    parseConfig(text, FILE, env, memFiles());
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return err.problems.map((line) => {
      if (!line.startsWith(FILE)) throw new Error(`a problem does not name the file: ${line}`);
      return line.slice(FILE.length).replace(/^: /, '');
    });
  }
  return [];
}
