import { execFileSync } from 'node:child_process';
import { mkdirSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestCerts {
  dir: string;
  /** Paths. */
  ca: string;
  cert: string;
  key: string;
  /** A second CA that signed nothing here: verifying against it must fail. */
  otherCa: string;
}

/**
 * A throwaway CA and a certificate for localhost / 127.0.0.1 signed by it, made with the openssl CLI.
 * Made once per directory; shared by the gateway's client-facing TLS and the test MariaDB server.
 */
export function makeCerts(dir: string): TestCerts {
  const out: TestCerts = {
    dir,
    ca: join(dir, 'ca.pem'),
    cert: join(dir, 'server.pem'),
    key: join(dir, 'server-key.pem'),
    otherCa: join(dir, 'other-ca.pem'),
  };
  if ([out.ca, out.cert, out.key, out.otherCa].every((f) => existsSync(f))) return out;
  mkdirSync(dir, { recursive: true });
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '3650', '-subj', '/CN=agentgate test CA',
    '-keyout', 'ca-key.pem', '-out', 'ca.pem');
  ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '3650', '-subj', '/CN=another CA',
    '-keyout', 'other-ca-key.pem', '-out', 'other-ca.pem');
  writeFileSync(join(dir, 'san.cnf'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  ssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-keyout', 'server-key.pem', '-out', 'server.csr');
  ssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca-key.pem', '-CAcreateserial', '-days', '3650',
    '-extfile', 'san.cnf', '-out', 'server.pem');
  return out;
}

export function readPem(path: string): string {
  return readFileSync(path, 'utf8');
}

/** The certificates of this test run (made by scripts/test.ts, shared through AGENTGATE_TEST_CERTS), or this process's own. */
export function testCerts(): TestCerts {
  return makeCerts(process.env.AGENTGATE_TEST_CERTS ?? join(tmpdir(), `agentgate-test-certs-${process.pid}`));
}
