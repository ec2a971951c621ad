// From the expanded YAML document to a `Config`: every key checked, every default filled, every relative path
// resolved against the config file's folder, and every problem collected (see check.ts for the primitives).
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { join } from 'node:path';
import { STATEMENT_KINDS, type StatementKind } from '../sql/types.ts';
import {
  DETECTORS,
  type AdminConfig, type ApiConfig, type ApiOidcConfig, type ApprovalsConfig, type AuditConfig, type ClientTlsConfig, type Config,
  type DetectorName, type HostPort, type IdentityConfig, type MaskingRuleConfig, type OidcIssuerConfig,
  type PolicyConfig, type RuleConfig, type ServiceAccountConfig, type TargetConfig, type UpstreamConfig,
} from './types.ts';
import {
  bool, duration, hostPort, httpsUrl, int, list, mapping, maybe, oneOf, opt, path, readAt, req, str, strOrEmpty,
  type Checker, type Parse,
} from './check.ts';
import { joinIndex } from './secrets.ts';
import { closest } from './suggest.ts';

/** Documented defaults (README "Configuration"). */
export const DEFAULTS = {
  upstreamPort: 3306,
  upstreamTls: 'preferred',
  connectTimeout: 10_000,
  groupsClaim: 'groups',
  algorithms: ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'],
  clockTolerance: 30_000,
  captureRows: 1000,
  checkpointEvery: 1000,
  checkpointInterval: 60_000,
  apiListen: '127.0.0.1:8080',
  approvalTimeout: 300_000,
  minApprovals: 1,
  retryValidity: 15 * 60_000,
  dataDir: '.agentgate',
  auditFile: 'audit.db',
} as const;

const TOP_KEYS = ['targets', 'tls', 'identity', 'audit', 'api', 'approvals', 'policies', 'masking', 'log', 'dataDir'];

export function validate(c: Checker, doc: unknown): Config {
  if (doc === null || doc === undefined) {
    c.problem('', 'the file is empty (at least targets, identity and policies are needed)');
    return undefined as unknown as Config;
  }
  const top = mapping(c, '', doc, TOP_KEYS) ?? {};
  const dataDir = opt(c, top, '', 'dataDir', path, join(c.dir, DEFAULTS.dataDir));
  const listens: Listen[] = [];
  const targets = req(c, top, '', 'targets', list(target(listens), { nonEmpty: true }), 'at least one target is needed') ?? [];
  uniqueNames(c, 'targets', top.targets);

  const apiObj = mapping(c, 'api', top.api, ['listen', 'oidc']) ?? {};
  const api: ApiConfig = { listen: opt(c, apiObj, 'api', 'listen', hostPort, parseDefaultListen()) };
  const apiOidc = maybe(c, apiObj, 'api', 'oidc', apiOidcConfig);
  if (apiOidc) api.oidc = apiOidc;
  listens.push({ path: 'api.listen', at: api.listen });
  checkListens(c, listens);

  const tls = top.tls === undefined || top.tls === null ? undefined : clientTls(c, top.tls);
  const identity = identityConfig(c, top.identity);
  const audit = auditConfig(c, top.audit, dataDir);
  const approvals = approvalsConfig(c, top.approvals);
  // Names as written, valid or not, so a target with some other problem does not also fail every policy naming it.
  const targetNames = new Set(rawNames(top.targets));
  const policies = req(c, top, '', 'policies', list(policy(targetNames, approvals), { nonEmpty: true }),
    'a login is refused unless a policy matches it') ?? [];
  uniqueNames(c, 'policies', top.policies);

  const maskObj = mapping(c, 'masking', top.masking, ['hashKey']) ?? {};
  const hashKey = maybe(c, maskObj, 'masking', 'hashKey', minLength(16, 'a hash key'));
  const logObj = mapping(c, 'log', top.log, ['level']) ?? {};
  const level = opt(c, logObj, 'log', 'level', oneOf(['debug', 'info', 'warn', 'error'] as const), 'info');

  return {
    file: '', dir: c.dir, dataDir, targets, ...(tls ? { tls } : {}), identity, audit, api, approvals, policies,
    masking: hashKey === undefined ? {} : { hashKey }, log: { level },
  };
}

function rawNames(v: unknown): string[] {
  if (!Array.isArray(v)) return [];
  return v.flatMap((t) => (t && typeof t === 'object' && typeof (t as { name?: unknown }).name === 'string' ? [(t as { name: string }).name] : []));
}

function parseDefaultListen(): HostPort {
  const [host, port] = DEFAULTS.apiListen.split(':');
  return { host: host!, port: Number(port) };
}

interface Listen {
  path: string;
  at: HostPort;
}

const WILDCARD = new Set(['0.0.0.0', '::', '*']);

/** Two listeners clash on the same port when the hosts are equal or either one listens on every interface. */
function checkListens(c: Checker, listens: Listen[]): void {
  listens.forEach((l, i) => {
    const clash = listens.slice(0, i).find((o) => o.at.port === l.at.port
      && (o.at.host.toLowerCase() === l.at.host.toLowerCase() || WILDCARD.has(o.at.host) || WILDCARD.has(l.at.host)));
    if (clash) c.problem(l.path, `${fmtHostPort(l.at)} is already used by ${clash.path} (${fmtHostPort(clash.at)})`);
  });
}

function fmtHostPort(h: HostPort): string {
  return h.host.includes(':') ? `[${h.host}]:${h.port}` : `${h.host}:${h.port}`;
}

/**
 * Pairs [i, first] of items of a raw list whose `key` repeats an earlier item's. Works on the document as written
 * so that positions stay right even when some items had other problems.
 */
function duplicates(raw: unknown, key: string): [number, number][] {
  if (!Array.isArray(raw)) return [];
  const values = raw.map((t) => (t && typeof t === 'object' ? (t as Record<string, unknown>)[key] : undefined));
  const out: [number, number][] = [];
  values.forEach((v, i) => {
    if (typeof v !== 'string') return;
    const first = values.indexOf(v);
    if (first < i) out.push([i, first]);
  });
  return out;
}

function uniqueNames(c: Checker, listPath: string, raw: unknown, key = 'name'): void {
  for (const [i, first] of duplicates(raw, key)) {
    const v = (raw as Record<string, unknown>[])[i]![key];
    c.problem(`${joinIndex(listPath, i)}.${key}`, `${JSON.stringify(v)} is already used by ${joinIndex(listPath, first)}`);
  }
}

function minLength(n: number, what: string): Parse<string> {
  return (c, p, v) => {
    const s = str(c, p, v);
    if (s === undefined) return undefined;
    if ([...s].length < n) {
      c.problem(p, `the value is ${[...s].length} characters long; ${what} needs at least ${n}`);
      return undefined;
    }
    return s;
  };
}

// ---- targets ----

const TARGET_NAME = /^[a-z0-9-]+$/;

const targetName: Parse<string> = (c, p, v) => {
  const s = str(c, p, v);
  if (s === undefined) return undefined;
  if (!TARGET_NAME.test(s)) {
    c.problem(p, `${JSON.stringify(s)} is not a valid target name (use lowercase letters, digits and -)`);
    return undefined;
  }
  return s;
};

function target(listens: Listen[]): Parse<TargetConfig> {
  return (c, p, v) => {
    const o = mapping(c, p, v, ['name', 'listen', 'upstream']);
    if (!o) return undefined;
    const name = req(c, o, p, 'name', targetName);
    const listen = req(c, o, p, 'listen', hostPort, 'where agents connect, e.g. 127.0.0.1:3307');
    if (listen) listens.push({ path: `${p}.listen`, at: listen });
    const upstream = req(c, o, p, 'upstream', upstreamConfig, 'the MySQL server behind this target');
    return { name, listen, upstream };
  };
}

const UPSTREAM_TLS = ['disabled', 'preferred', 'required', 'verify'] as const;

const upstreamConfig: Parse<UpstreamConfig> = (c, p, v) => {
  const o = mapping(c, p, v, ['host', 'port', 'user', 'password', 'tls', 'ca', 'connectTimeout']);
  if (!o) return undefined;
  const tls = opt(c, o, p, 'tls', oneOf(UPSTREAM_TLS), DEFAULTS.upstreamTls);
  const out: UpstreamConfig = {
    host: req(c, o, p, 'host', str),
    port: opt(c, o, p, 'port', int(1, 65535), DEFAULTS.upstreamPort),
    user: req(c, o, p, 'user', str),
    password: opt(c, o, p, 'password', strOrEmpty, ''),
    tls,
    connectTimeout: opt(c, o, p, 'connectTimeout', duration(1), DEFAULTS.connectTimeout),
  };
  // The CA is read and checked whatever the mode (a broken file is better found now than when someone switches to
  // verify), but only `verify` uses it to check the server.
  const ca = maybe(c, o, p, 'ca', path);
  if (ca !== undefined) {
    const pem = readAt(c, `${p}.ca`, ca);
    if (pem !== undefined && parseCert(c, `${p}.ca`, ca, pem)) {
      out.ca = ca;
      out.caPem = pem;
    }
  } else if (tls === 'verify' && o.ca === undefined) {
    c.problem(`${p}.ca`, 'is missing (tls: verify checks the server certificate against this CA file)');
  }
  return out;
};

function parseCert(c: Checker, keyPath: string, file: string, pem: string): X509Certificate | undefined {
  try {
    return new X509Certificate(pem);
  } catch {
    c.problem(keyPath, `${file} is not a PEM certificate`);
    return undefined;
  }
}

/** Never includes the library's message: it could quote key material. */
function parseKey(c: Checker, keyPath: string, file: string, pem: string): KeyObject | undefined {
  try {
    return createPrivateKey(pem);
  } catch {
    c.problem(keyPath, `${file} is not a PEM private key (or it is encrypted with a passphrase)`);
    return undefined;
  }
}

function clientTls(c: Checker, v: unknown): ClientTlsConfig | undefined {
  const o = mapping(c, 'tls', v, ['cert', 'key', 'require']);
  if (!o) return undefined;
  const cert = req(c, o, 'tls', 'cert', path, 'the gateway certificate, PEM');
  const key = req(c, o, 'tls', 'key', path, 'its private key, PEM');
  const require = opt(c, o, 'tls', 'require', bool, false);
  const certPem = cert === undefined ? undefined : readAt(c, 'tls.cert', cert);
  const keyPem = key === undefined ? undefined : readAt(c, 'tls.key', key);
  const x509 = certPem === undefined ? undefined : parseCert(c, 'tls.cert', cert, certPem);
  const pk = keyPem === undefined ? undefined : parseKey(c, 'tls.key', key, keyPem);
  if (x509 && pk && !x509.checkPrivateKey(pk)) c.problem('tls.key', `${key} is not the private key of the certificate in ${cert}`);
  return { cert, key, certPem: certPem ?? '', keyPem: keyPem ?? '', require };
}

// ---- identity ----

const HMAC_ALGS = /^HS\d+$/;

const algorithm: Parse<string> = (c, p, v) => {
  const s = str(c, p, v);
  if (s === undefined) return undefined;
  if (s.toLowerCase() === 'none') {
    c.problem(p, '"none" is never accepted (an unsigned token proves nothing)');
  } else if (HMAC_ALGS.test(s)) {
    c.problem(p, `"${s}" is not accepted (a shared-secret algorithm cannot be checked with the issuer's public keys)`);
  } else if (!(DEFAULTS.algorithms as readonly string[]).includes(s)) {
    const near = closest(s, DEFAULTS.algorithms);
    c.problem(p, `"${s}" is not one of ${DEFAULTS.algorithms.join(', ')}${near ? ` (did you mean "${near}"?)` : ''}`);
  } else {
    return s;
  }
  return undefined;
};

const oidcIssuer: Parse<OidcIssuerConfig> = (c, p, v) => {
  const o = mapping(c, p, v, ['issuer', 'audience', 'jwksUri', 'groupsClaim', 'algorithms', 'clockTolerance']);
  if (!o) return undefined;
  const out: OidcIssuerConfig = {
    issuer: req(c, o, p, 'issuer', httpsUrl(), 'the https URL that tokens name in "iss"'),
    audience: req(c, o, p, 'audience', list(str, { nonEmpty: true, single: true }), 'the "aud" the tokens must carry'),
    groupsClaim: opt(c, o, p, 'groupsClaim', str, DEFAULTS.groupsClaim),
    algorithms: opt(c, o, p, 'algorithms', list(algorithm, { nonEmpty: true }), [...DEFAULTS.algorithms]),
    clockTolerance: opt(c, o, p, 'clockTolerance', duration(0), DEFAULTS.clockTolerance),
  };
  const jwksUri = maybe(c, o, p, 'jwksUri', httpsUrl({ query: true }));
  if (jwksUri !== undefined) out.jwksUri = jwksUri;
  return out;
};

/** `api.oidc`: console sign-in for admins (authorization code with PKCE, the ID token as the bearer). */
const apiOidcConfig: Parse<ApiOidcConfig> = (c, p, v) => {
  const o = mapping(c, p, v, ['issuer', 'clientId', 'adminGroups', 'groupsClaim', 'nameClaim', 'scopes', 'jwksUri']);
  if (!o) return undefined;
  const out: ApiOidcConfig = {
    issuer: req(c, o, p, 'issuer', httpsUrl(), 'the https URL that ID tokens name in "iss"'),
    clientId: req(c, o, p, 'clientId', str, "the console's client id at the issuer (a public client using PKCE)"),
    // Without it every account of the issuer could read the audit trail.
    adminGroups: req(c, o, p, 'adminGroups', list(str, { nonEmpty: true }), 'the groups whose members are admins, e.g. [dba]'),
    groupsClaim: opt(c, o, p, 'groupsClaim', str, DEFAULTS.groupsClaim),
    nameClaim: opt(c, o, p, 'nameClaim', str, 'sub'),
    scopes: opt(c, o, p, 'scopes', list(scope, { nonEmpty: true }), ['openid', 'profile', 'email']),
  };
  if (o.scopes !== undefined && o.scopes !== null && !out.scopes.includes('openid')) {
    c.problem(`${p}.scopes`, 'must include "openid" (the sign-in needs an ID token)');
  }
  const jwksUri = maybe(c, o, p, 'jwksUri', httpsUrl({ query: true }));
  if (jwksUri !== undefined) out.jwksUri = jwksUri;
  return out;
};

const scope: Parse<string> = (c, p, v) => {
  const s = str(c, p, v);
  if (s === undefined) return undefined;
  if (!/^[\x21\x23-\x5b\x5d-\x7e]+$/.test(s)) {
    c.problem(p, `${c.show(p, s)} is not a scope (printable characters, no spaces, quotes or backslashes)`);
    return undefined;
  }
  return s;
};

// MySQL user names travel NUL-terminated in the handshake and are typed on command lines: printable, no spaces.
// MariaDB allows 80 characters (MySQL 8 32), and the gateway, not the server, checks them.
const accountName: Parse<string> = (c, p, v) => {
  const s = str(c, p, v);
  if (s === undefined) return undefined;
  if ([...s].length > 80 || /[\s\p{Cc}]/u.test(s)) {
    c.problem(p, `${c.show(p, s)} is not a valid MySQL user name (1-80 characters, no spaces or control characters)`);
    return undefined;
  }
  return s;
};

const groups = list(str);

const serviceAccount: Parse<ServiceAccountConfig> = (c, p, v) => {
  const o = mapping(c, p, v, ['name', 'secret', 'groups']);
  if (!o) return undefined;
  return {
    name: req(c, o, p, 'name', accountName, 'the MySQL user name it logs in with'),
    secret: req(c, o, p, 'secret', str, 'its password, e.g. ${CI_SECRET}'),
    groups: opt(c, o, p, 'groups', groups, []),
  };
};

const admin: Parse<AdminConfig> = (c, p, v) => {
  const o = mapping(c, p, v, ['name', 'token', 'groups']);
  if (!o) return undefined;
  return {
    name: req(c, o, p, 'name', str),
    token: req(c, o, p, 'token', minLength(16, 'an admin token'), 'its bearer token, e.g. ${ALICE_TOKEN}'),
    groups: opt(c, o, p, 'groups', groups, []),
  };
};

function identityConfig(c: Checker, v: unknown): IdentityConfig {
  const o = mapping(c, 'identity', v, ['oidc', 'serviceAccounts', 'admins', 'rsaKey']) ?? {};
  const oidc = opt(c, o, 'identity', 'oidc', list(oidcIssuer), []);
  const serviceAccounts = opt(c, o, 'identity', 'serviceAccounts', list(serviceAccount), []);
  const admins = opt(c, o, 'identity', 'admins', list(admin), []);
  if (oidc.length === 0 && serviceAccounts.length === 0 && v !== undefined) {
    c.problem('identity', 'has no OIDC issuer and no service account: no agent could log in');
  } else if (v === undefined) {
    c.problem('identity', 'is missing (OIDC issuers and/or service accounts: who may log in)');
  }
  uniqueNames(c, 'identity.oidc', o.oidc, 'issuer');
  uniqueNames(c, 'identity.serviceAccounts', o.serviceAccounts);
  uniqueNames(c, 'identity.admins', o.admins);
  for (const [i, first] of duplicates(o.admins, 'token')) {
    c.problem(`identity.admins[${i}].token`, `the value is the same as identity.admins[${first}].token (each admin needs their own)`);
  }
  const out: IdentityConfig = { oidc, serviceAccounts, admins };
  const rsaKey = maybe(c, o, 'identity', 'rsaKey', path);
  if (rsaKey !== undefined) {
    const pem = readAt(c, 'identity.rsaKey', rsaKey);
    const key = pem === undefined ? undefined : parseKey(c, 'identity.rsaKey', rsaKey, pem);
    if (key && key.asymmetricKeyType !== 'rsa') c.problem('identity.rsaKey', `${rsaKey} is not an RSA key`);
    else if (key && (key.asymmetricKeyDetails?.modulusLength ?? 0) < 2048) c.problem('identity.rsaKey', `${rsaKey} has fewer than 2048 bits`);
    else if (key) out.rsaKey = rsaKey;
  }
  return out;
}

// ---- audit, approvals ----

function auditConfig(c: Checker, v: unknown, dataDir: string): AuditConfig {
  const o = mapping(c, 'audit', v, ['store', 'captureRows', 'fsync', 'signingKey', 'checkpointEvery', 'checkpointInterval']) ?? {};
  const out: AuditConfig = {
    store: opt(c, o, 'audit', 'store', auditStore, `sqlite:${join(dataDir, DEFAULTS.auditFile)}`),
    captureRows: opt(c, o, 'audit', 'captureRows', int(0), DEFAULTS.captureRows),
    fsync: opt(c, o, 'audit', 'fsync', bool, false),
    checkpointEvery: opt(c, o, 'audit', 'checkpointEvery', int(1), DEFAULTS.checkpointEvery),
    checkpointInterval: opt(c, o, 'audit', 'checkpointInterval', duration(1), DEFAULTS.checkpointInterval),
  };
  const signingKey = maybe(c, o, 'audit', 'signingKey', path);
  if (signingKey !== undefined) {
    const pem = readAt(c, 'audit.signingKey', signingKey);
    const key = pem === undefined ? undefined : parseKey(c, 'audit.signingKey', signingKey, pem);
    if (key && key.asymmetricKeyType !== 'ed25519') c.problem('audit.signingKey', `${signingKey} is not an Ed25519 private key`);
    else if (key) out.signingKey = signingKey;
  }
  return out;
}

/** `sqlite:PATH` (relative to the config file) or a PostgreSQL URL. The value is never quoted: a URL carries a password. */
const auditStore: Parse<string> = (c, p, v) => {
  const s = str(c, p, v);
  if (s === undefined) return undefined;
  if (s.startsWith('sqlite:')) {
    const file = s.slice('sqlite:'.length);
    if (file === '') {
      c.problem(p, 'sqlite: needs a file path, e.g. sqlite:./.agentgate/audit.db');
      return undefined;
    }
    if (file === ':memory:') {
      // The store writes on threads of its own, which an in-memory database cannot be shared with; and an audit
      // trail that vanishes with the process is no audit trail.
      c.problem(p, 'an in-memory database cannot hold the audit trail; give a file, e.g. sqlite:./.agentgate/audit.db');
      return undefined;
    }
    return `sqlite:${c.resolvePath(file)}`;
  }
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(s)?.[1];
  if (scheme === 'postgres' || scheme === 'postgresql') {
    let u: URL | undefined;
    try {
      u = new URL(s);
    } catch {
      u = undefined;
    }
    if (!u || !u.hostname) {
      c.problem(p, 'the value is not a valid PostgreSQL URL (postgres://user:password@host:port/database)');
      return undefined;
    }
    return s;
  }
  const near = scheme ? closest(scheme, ['sqlite', 'postgres', 'postgresql']) : undefined;
  c.problem(p, `${scheme ? `unknown store "${scheme}:"` : 'the value is not a store'}; use sqlite:PATH or postgres://user:password@host:port/database${near ? ` (did you mean "${near}:"?)` : ''}`);
  return undefined;
};

const webhookUrl: Parse<string> = (c, p, v) => {
  const s = str(c, p, v);
  if (s === undefined) return undefined;
  try {
    const u = new URL(s);
    if (u.protocol === 'https:' || u.protocol === 'http:') return s;
  } catch {
    // reported below
  }
  c.problem(p, 'the value is not an http(s) URL');
  return undefined;
};

function approvalsConfig(c: Checker, v: unknown): ApprovalsConfig {
  const o = mapping(c, 'approvals', v, ['approvers', 'timeout', 'webhook', 'webhookSecret', 'minApprovals']) ?? {};
  const out: ApprovalsConfig = {
    approvers: opt(c, o, 'approvals', 'approvers', groups, []),
    timeout: opt(c, o, 'approvals', 'timeout', duration(1), DEFAULTS.approvalTimeout),
    minApprovals: opt(c, o, 'approvals', 'minApprovals', int(1), DEFAULTS.minApprovals),
  };
  const webhook = maybe(c, o, 'approvals', 'webhook', webhookUrl);
  const secret = maybe(c, o, 'approvals', 'webhookSecret', str);
  if (webhook !== undefined) out.webhook = webhook;
  if (secret !== undefined) {
    if (o.webhook === undefined || o.webhook === null) c.problem('approvals.webhookSecret', 'is set but approvals.webhook is not');
    out.webhookSecret = secret;
  }
  return out;
}

// ---- policies ----

function policy(targetNames: Set<string>, approvals: ApprovalsConfig): Parse<PolicyConfig> {
  return (c, p, v) => {
    const o = mapping(c, p, v, ['name', 'groups', 'targets', 'guardrails', 'rules', 'masking', 'maskedColumnUse',
      'maxRows', 'maxRowsPerSession', 'retention', 'approvalMode', 'retryValidity']);
    if (!o) return undefined;
    const targetRef: Parse<string> = (c2, p2, v2) => {
      const s = str(c2, p2, v2);
      // With no target names at all, the targets list itself is what is wrong, and it is reported already.
      if (s === undefined || s === '*' || targetNames.has(s) || targetNames.size === 0) return s;
      const near = closest(s, [...targetNames]);
      c2.problem(p2, `no target is named ${JSON.stringify(s)}${near ? ` (did you mean "${near}"?)` : ` (targets: ${[...targetNames].join(', ')}, or "*")`}`);
      return undefined;
    };
    const rules = opt(c, o, p, 'rules', list(ruleConfig(approvals)), []);
    uniqueNames(c, `${p}.rules`, o.rules);
    const out: PolicyConfig = {
      name: opt(c, o, p, 'name', str, `#${lastIndex(p) + 1}`),
      groups: req(c, o, p, 'groups', list(str, { nonEmpty: true }), 'the groups this policy applies to'),
      targets: req(c, o, p, 'targets', list(targetRef, { nonEmpty: true }), 'target names, or ["*"]'),
      guardrails: opt(c, o, p, 'guardrails', oneOf(['recommended', 'none'] as const), 'none'),
      rules,
      masking: opt(c, o, p, 'masking', list(maskingRule), []),
      maskedColumnUse: opt(c, o, p, 'maskedColumnUse', oneOf(['deny', 'approve'] as const), 'deny'),
      approvalMode: opt(c, o, p, 'approvalMode', oneOf(['hold', 'retry'] as const), 'hold'),
      retryValidity: opt(c, o, p, 'retryValidity', duration(1), DEFAULTS.retryValidity),
    };
    if (out.maskedColumnUse === 'approve' && approvals.approvers.length === 0) c.problem(`${p}.maskedColumnUse`, `"approve" ${NO_APPROVERS}`);
    const maxRows = maybe(c, o, p, 'maxRows', int(1));
    const maxRowsPerSession = maybe(c, o, p, 'maxRowsPerSession', int(1));
    const retention = maybe(c, o, p, 'retention', duration(1));
    if (maxRows !== undefined) out.maxRows = maxRows;
    if (maxRowsPerSession !== undefined) out.maxRowsPerSession = maxRowsPerSession;
    if (retention !== undefined) out.retention = retention;
    return out;
  };
}

/** The position of a list item from its key path (`policies[2]` → 2). */
function lastIndex(p: string): number {
  return Number(/\[(\d+)\]$/.exec(p)?.[1] ?? 0);
}

const kind = oneOf<StatementKind>(STATEMENT_KINDS);

/** `db.table` (or `db.table.column` with `parts` 3), each part a name or `*`. */
function qualified(parts: 2 | 3): Parse<string> {
  const shape = parts === 2 ? 'db.table' : 'db.table.column';
  return (c, p, v) => {
    const s = str(c, p, v);
    if (s === undefined) return undefined;
    const bits = s.split('.');
    if (bits.length === parts && bits.every((b) => b !== '' && (b === '*' || !/[*\s`]/.test(b)))) return s;
    let hint = '';
    if (bits.length === parts - 1 && bits.every((b) => b !== '')) hint = ` (use "*.${s}" for any database)`;
    else if (bits.some((b) => b.includes('*') && b !== '*')) hint = ' (* stands for a whole part only)';
    c.problem(p, `${JSON.stringify(s)} must be ${shape}, each part a name or *${hint}`);
    return undefined;
  };
}

const NO_APPROVERS = 'needs approvals.approvers (the groups allowed to approve); none are set';

const RULE_KEYS = ['name', 'kinds', 'tables', 'unboundedWrite', 'minRows', 'action', 'minApprovals'];

function ruleConfig(approvals: ApprovalsConfig): Parse<RuleConfig> {
  return (c, p, v) => {
  const o = mapping(c, p, v, RULE_KEYS);
  if (!o) return undefined;
  const action = req(c, o, p, 'action', oneOf(['allow', 'deny', 'approve'] as const), 'allow, deny or approve');
  const out: RuleConfig = { name: opt(c, o, p, 'name', str, `#${lastIndex(p) + 1}`), action };
  const kinds = maybe(c, o, p, 'kinds', list(kind, { nonEmpty: true }));
  const tables = maybe(c, o, p, 'tables', list(qualified(2), { nonEmpty: true }));
  const unboundedWrite = maybe(c, o, p, 'unboundedWrite', bool);
  const minRows = maybe(c, o, p, 'minRows', int(0));
  const minApprovals = maybe(c, o, p, 'minApprovals', int(1));
  if (kinds) out.kinds = kinds;
  if (tables) out.tables = tables;
  if (unboundedWrite !== undefined) out.unboundedWrite = unboundedWrite;
  if (minRows !== undefined) out.minRows = minRows;
  // Without approvers every held statement could only time out.
  if (action === 'approve' && approvals.approvers.length === 0) c.problem(`${p}.action`, `"approve" ${NO_APPROVERS}`);
  if (minApprovals !== undefined && action !== undefined && action !== 'approve') {
    c.problem(`${p}.minApprovals`, `only applies to action: approve (this rule's action is ${action})`);
  } else if (action === 'approve') {
    out.minApprovals = minApprovals ?? approvals.minApprovals;
  }
  return out;
  };
}

const detector = oneOf<DetectorName>(DETECTORS);

const maskingRule: Parse<MaskingRuleConfig> = (c, p, v) => {
  const o = mapping(c, p, v, ['columns', 'detect', 'style']);
  if (!o) return undefined;
  const style = req(c, o, p, 'style', oneOf(['redact', 'partial', 'hash', 'null'] as const), 'redact, partial, hash or null');
  const columns = maybe(c, o, p, 'columns', list(qualified(3), { nonEmpty: true }));
  const detect = maybe(c, o, p, 'detect', list(detector, { nonEmpty: true }));
  const hasColumns = o.columns !== undefined && o.columns !== null;
  const hasDetect = o.detect !== undefined && o.detect !== null;
  if (!hasColumns && !hasDetect) {
    c.problem(p, 'needs columns (db.table.column) or detect (content detectors)');
  } else if (hasColumns && hasDetect) {
    // Would "detect" then apply to those columns only, or everywhere? Two entries say it without ambiguity.
    c.problem(p, 'has both columns and detect: write them as two entries');
  }
  const out: MaskingRuleConfig = { style };
  if (columns) out.columns = columns;
  if (detect) out.detect = detect;
  return out;
};
