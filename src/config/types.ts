import type { StatementKind } from '../sql/types.ts';

/** The validated configuration. Durations are milliseconds; relative paths are resolved against the config file's folder. */

export interface HostPort {
  host: string;
  port: number;
}

export type UpstreamTlsMode = 'disabled' | 'preferred' | 'required' | 'verify';

export interface UpstreamConfig {
  host: string;
  port: number;
  user: string;
  /** The vaulted credential: never logged, never returned by the API or the CLI. */
  password: string;
  tls: UpstreamTlsMode;
  /** CA bundle (PEM text) for `verify`; read from the `ca` path. */
  caPem?: string;
  ca?: string;
  /** Upstream connect + login timeout. Default 10 s. */
  connectTimeout: number;
}

export interface TargetConfig {
  name: string;
  listen: HostPort;
  upstream: UpstreamConfig;
}

export interface ClientTlsConfig {
  cert: string;
  key: string;
  /** PEM text read from `cert` and `key`. */
  certPem: string;
  keyPem: string;
  /** true: plaintext clients are refused. */
  require: boolean;
}

export interface OidcIssuerConfig {
  issuer: string;
  /** One or more accepted audiences. */
  audience: string[];
  /** Optional: otherwise `${issuer}/.well-known/openid-configuration` is fetched. */
  jwksUri?: string;
  /** Claim holding the groups (a string array, or a space/comma separated string). Default `groups`. */
  groupsClaim: string;
  /** Accepted JWS algorithms. Default RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA. */
  algorithms: string[];
  /** Allowed clock skew for exp/nbf/iat, ms. Default 30 s. */
  clockTolerance: number;
}

export interface ServiceAccountConfig {
  name: string;
  secret: string;
  groups: string[];
}

export interface AdminConfig {
  name: string;
  token: string;
  groups: string[];
}

export interface IdentityConfig {
  oidc: OidcIssuerConfig[];
  serviceAccounts: ServiceAccountConfig[];
  admins: AdminConfig[];
  /**
   * RSA key (PEM file) for the caching_sha2_password public-key exchange on plaintext connections.
   * Default: generated once (8192 bits, so a JWT of up to ~980 bytes fits) and kept in `dataDir`.
   */
  rsaKey?: string;
}

export interface AuditConfig {
  /** `sqlite:PATH` or `postgres://user:pass@host:port/db`. */
  store: string;
  /** Result rows kept per result set; the full row count is always kept. Default 1000. */
  captureRows: number;
  /** true: fsync every group commit (survives power loss); false: durable against process crashes. Default false. */
  fsync: boolean;
  /** Ed25519 private key (PEM file) that signs checkpoints. Default: generated once and kept in `dataDir`. */
  signingKey?: string;
  /** A signed checkpoint after this many events… Default 1000. */
  checkpointEvery: number;
  /** …or after this long, whichever comes first. Default 60 s. */
  checkpointInterval: number;
}

/**
 * `api.oidc`: people sign in to the console (and may call the API) with an ID token of this issuer, obtained by the
 * authorization code flow with PKCE. Only members of `adminGroups` are admins.
 */
export interface ApiOidcConfig {
  issuer: string;
  /** The console's client id at the issuer (a public client); ID tokens must name it in `aud`. */
  clientId: string;
  /** A signed-in person is an admin only when one of their groups is listed here. */
  adminGroups: string[];
  /** Claim holding the groups. Default `groups`. */
  groupsClaim: string;
  /** Claim naming the admin (the decider shown on approvals). Default `sub`. */
  nameClaim: string;
  /** Scopes asked for; always includes `openid`. Default openid, profile, email. */
  scopes: string[];
  /** Optional: otherwise discovered from the issuer. */
  jwksUri?: string;
}

export interface ApiConfig {
  listen: HostPort;
  oidc?: ApiOidcConfig;
}

export interface ApprovalsConfig {
  /** Groups allowed to approve or deny. */
  approvers: string[];
  /** How long a held statement waits. Default 300 s. */
  timeout: number;
  /** Optional: a JSON POST for every new request and decision. */
  webhook?: string;
  /** HMAC-SHA256 key for the `X-Agentgate-Signature` header. */
  webhookSecret?: string;
  /** Distinct approvers needed. Default 1; a rule may ask for more. */
  minApprovals: number;
}

export type RuleAction = 'allow' | 'deny' | 'approve';

export interface RuleConfig {
  /** Shown as the deciding rule; default `#N` (1-based position in the policy). */
  name: string;
  kinds?: StatementKind[];
  /** `db.table`, `*` allowed per part. */
  tables?: string[];
  /** Matches UPDATE/DELETE that can touch every row of a table (or, false, those that cannot). */
  unboundedWrite?: boolean;
  /** Matches UPDATE/DELETE whose EXPLAIN estimate is at least N rows. */
  minRows?: number;
  action: RuleAction;
  /** Distinct approvers needed for `approve`; default `approvals.minApprovals`. */
  minApprovals?: number;
}

export type MaskStyle = 'redact' | 'partial' | 'hash' | 'null';

export const DETECTORS = ['credit_card', 'email', 'ssn', 'iban', 'phone', 'api_key', 'jwt'] as const;
export type DetectorName = (typeof DETECTORS)[number];

export interface MaskingRuleConfig {
  /** `db.table.column`, `*` allowed per part. */
  columns?: string[];
  /** Content detectors applied to every returned value. */
  detect?: DetectorName[];
  style: MaskStyle;
}

export interface PolicyConfig {
  name: string;
  groups: string[];
  /** Target names, or `*`. */
  targets: string[];
  /** The ready pack (`recommended`) runs after this policy's own rules. */
  guardrails: 'recommended' | 'none';
  rules: RuleConfig[];
  masking: MaskingRuleConfig[];
  /** What happens to a WHERE/ORDER BY/GROUP BY/JOIN on, or an INTO of, a masked column. Default `deny`. */
  maskedColumnUse: 'deny' | 'approve';
  /** Rows per result set; the pull stops with an error past it. */
  maxRows?: number;
  /** Rows per session. */
  maxRowsPerSession?: number;
  /** How long this policy's sessions are kept by `audit prune`. */
  retention?: number;
  /** `hold`: the statement waits for the decision; `retry`: refused at once, runs once when retried after approval. */
  approvalMode: 'hold' | 'retry';
  /** How long an approval stays usable in `retry` mode. Default 15 min. */
  retryValidity: number;
}

export interface Config {
  /** Absolute path of the file it was read from. */
  file: string;
  /** Its folder: relative paths are resolved against it. */
  dir: string;
  /** Where generated keys live. Default `.agentgate` beside the config file. */
  dataDir: string;
  targets: TargetConfig[];
  tls?: ClientTlsConfig;
  identity: IdentityConfig;
  audit: AuditConfig;
  api: ApiConfig;
  approvals: ApprovalsConfig;
  policies: PolicyConfig[];
  /** Key for the `hash` masking style (stable within a deployment). Default: generated once and kept in `dataDir`. */
  masking: { hashKey?: string };
  log: { level: 'debug' | 'info' | 'warn' | 'error' };
}
