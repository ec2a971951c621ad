import type { Identity } from '../identity/types.ts';
import type { MaskStyle } from '../config/types.ts';
import type { StatementKind } from '../sql/types.ts';

/**
 * What the audit store keeps. The gateway builds these records; the store makes them durable, chains them and
 * reads them back. Times are ISO 8601 strings in UTC.
 */

export type EventType =
  | 'connect'
  | 'query'
  | 'prepare'
  | 'execute'
  | 'fetch'
  | 'long_data'
  | 'stmt_close'
  | 'stmt_reset'
  | 'init_db'
  | 'field_list'
  | 'ping'
  | 'statistics'
  | 'reset_connection'
  | 'change_user'
  | 'set_option'
  | 'process_kill'
  | 'unknown'
  | 'approval'
  | 'disconnect';

export interface SessionStart {
  id: string;
  target: string;
  identity: Identity;
  /** "ip:port" of the client. */
  client: string;
  tls: boolean;
  startedAt: string;
  /** The gateway instance that serves it (several gateways may share a PostgreSQL store). */
  instanceId: string;
  /** Which policy applies. */
  policy: string;
}

export interface Session extends SessionStart {
  endedAt: string | null;
  /** Statements run (query, execute, init_db, …) so far. */
  statements: number;
  /** Why it ended: `quit`, `client closed`, `upstream closed`, `protocol error: …`, `shutdown`, … */
  endCause: string | null;
  /** Quick filters for listings. */
  denied: number;
  approvals: number;
  kinds: StatementKind[];
}

export interface Decision {
  action: 'allow' | 'deny' | 'approve';
  policy: string;
  /** The deciding rule's name, or null when no rule matched (the default allow). */
  rule: string | null;
  /** One sentence: why. */
  reason?: string;
}

/** A column definition as the client received it, with where it came from. */
export interface ColumnInfo {
  /** Name the client sees (alias). */
  name: string;
  /** Origin: schema, table (org_table), column (org_name); empty strings when computed. */
  db: string;
  table: string;
  column: string;
  /** MySQL type byte (MYSQL_TYPE_*), flags, character set id, decimals: needed to decode binary rows. */
  type: number;
  flags: number;
  charset: number;
  decimals: number;
  /** The masking style applied, or null. */
  masked: MaskStyle | null;
  /** For computed columns: the base columns (`db.table.column`) the value derives from. */
  derivedFrom?: readonly string[];
}

/** Result rows exactly as the client received them (after masking): the row packets' payloads. */
export interface CapturedRows {
  format: 'text' | 'binary';
  payloads: Buffer[];
}

export interface ResultRecord {
  columns?: readonly ColumnInfo[];
  rows?: CapturedRows;
  /** Rows the client received (all of them, not only the captured ones). */
  rowCount?: number;
  affectedRows?: number;
  lastInsertId?: string;
  warnings?: number;
  /** The result ended early because of a limit (`maxRows`, `maxRowsPerSession`) or an error. */
  truncated?: string;
  error?: { code: number; sqlState?: string; message: string };
}

/** A decoded prepared-statement parameter: its MySQL type name and value, JSON-safe (big integers and decimals as strings, bytes as base64). */
export interface ParamValue {
  type: string;
  value: string | number | boolean | null;
  unsigned?: boolean;
  encoding?: 'base64';
}

export interface NewEvent {
  sessionId: string;
  /** 1, 2, 3… within the session, assigned by the gateway. */
  seq: number;
  at: string;
  type: EventType;
  sql?: string;
  params?: ParamValue[];
  stmtId?: number;
  kinds?: StatementKind[];
  fingerprint?: string;
  decision?: Decision;
  approval?: { id: string; status: string; by?: string[]; reason?: string };
  /** init_db / USE: the schema switched to. */
  db?: string;
  /** The first result; `results` holds all of them when a statement returned several. */
  result?: ResultRecord;
  results?: ResultRecord[];
  durationMs?: number;
  /** connect: the identity and how it logged in; disconnect: the cause; unknown: the bytes (hex). */
  detail?: Record<string, unknown>;
}

/** An event as stored, with its place in the hash chain. */
export interface StoredEvent extends NewEvent {
  /** Chain position, hash of the previous event and of this one (hex). */
  chain: { stream: string; position: number; prev: string; hash: string };
}

export type ApprovalStatus = 'pending' | 'approved' | 'denied' | 'timed_out' | 'expired';

export interface Approval {
  id: string;
  sessionId: string;
  target: string;
  identity: Identity;
  sql: string;
  params?: ParamValue[];
  kinds: StatementKind[];
  fingerprint: string;
  policy: string;
  rule: string | null;
  estimatedRows?: number;
  status: ApprovalStatus;
  mode: 'hold' | 'retry';
  minApprovals: number;
  votes: { by: string; decision: 'approve' | 'deny'; reason?: string; at: string }[];
  createdAt: string;
  expiresAt: string;
  decidedAt: string | null;
  decidedBy: string | null;
  reason: string | null;
  /** The instance holding the statement (hold mode). */
  instanceId: string;
  /** retry mode: set once the approved statement has run. */
  usedAt?: string | null;
}

export interface SessionFilter {
  target?: string;
  subject?: string;
  since?: string;
  until?: string;
  limit?: number;
  /** Sessions started before this id (pagination, newest first). */
  before?: string;
  hasDenied?: boolean;
  hasApproval?: boolean;
  kind?: StatementKind;
}

export interface VerifyResult {
  ok: boolean;
  events: number;
  firstBad: { sessionId: string; seq: number } | null;
  /** What is wrong at firstBad, in one sentence. */
  problem?: string;
  checkpoints?: number;
  /** Chain records checked (session headers included); how many are retention stubs; how many writer streams. */
  records?: number;
  stubs?: number;
  streams?: number;
  /** Records after the last signed checkpoint of their stream: removing those would not be detected. */
  unanchored?: number;
}

export interface VerifyOptions {
  /**
   * Public keys (PEM) or key ids trusted for checkpoint and prune signatures. Default: the store's own key and every
   * key registered in the database.
   */
  trustedKeys?: string[];
}

export interface SearchOptions {
  /** Also match cells that contain the value (exact match is the default). */
  substring?: boolean;
}

export interface PruneOptions {
  /** Default: the current time. */
  now?: string | Date;
  /** Retention per policy name, ms. Sessions of policies not listed are kept. */
  retention: Map<string, number>;
}

export interface PruneResult {
  /** Sessions removed, chain records turned into stubs, signed prune records written. */
  sessions: number;
  records: number;
  pruneRecords: number;
}

/** What `openAuditStore` takes besides the URL. */
export interface AuditStoreOptions {
  /** This gateway instance; also the name of its chain stream. */
  instanceId: string;
  /** Ed25519 private key (PEM) signing checkpoints and prune records. Absent: an ephemeral key (registered in the database). */
  signingKeyPem?: string;
  /** SQLite: synchronous=FULL (survives power loss) instead of NORMAL (survives a crash of the process). */
  fsync?: boolean;
  /** A signed checkpoint after this many records… Default 1000. */
  checkpointEvery?: number;
  /** …or this many ms after the last one when records were added since. Default 60 s. */
  checkpointInterval?: number;
  /** Row payloads kept per result set (the gateway's limit, enforced again here). Default: all given. */
  captureRows?: number;
  /** SQLite: how long a write waits for another process's lock before failing. Default 2000 ms. */
  busyTimeout?: number;
  /**
   * SQLite without fsync: journaled bytes not yet moved into the tables beyond which an append waits for the writer
   * thread to move them (the backlog of a writer thread that falls behind stays bounded). Default 16 MiB.
   */
  maxPendingBytes?: number;
}

export interface SearchHit {
  sessionId: string;
  seq: number;
  column: string;
}

/**
 * The one interface over SQLite and PostgreSQL. Writes are grouped (group commit): `append` resolves once the event
 * is durable; when the store cannot record, it rejects and `healthy` turns false until a write succeeds again.
 */
export interface AuditStore {
  readonly kind: 'sqlite' | 'postgres';
  readonly healthy: boolean;
  init(): Promise<void>;
  openSession(s: SessionStart): Promise<void>;
  append(e: NewEvent): Promise<void>;
  closeSession(id: string, endedAt: string, cause: string): Promise<void>;

  listSessions(f: SessionFilter): Promise<Session[]>;
  getSession(id: string): Promise<(Session & { events: StoredEvent[] }) | null>;
  verify(opts?: VerifyOptions): Promise<VerifyResult>;
  /** Cells whose text equals `value` (or contains it, with `substring`) in captured rows; newest first. */
  searchValue(value: string, limit?: number, opts?: SearchOptions): Promise<SearchHit[]>;
  /** Events that returned `db.table.col` (`*` allowed per part), directly or via derivedFrom; newest first. */
  searchColumn(column: string, limit?: number): Promise<SearchHit[]>;
  /**
   * One session as JSON Lines (header line, chain records, checkpoints naming it, public keys), which
   * scripts/verify-export.mjs checks on its own. Null when there is no such session (or it was pruned).
   */
  exportSession(id: string): Promise<AsyncIterable<string> | null>;
  /** Retention: removes old sessions' contents, keeping the chain verifiable (stubs plus a signed prune record). */
  prune(o: PruneOptions): Promise<PruneResult>;

  /** Approvals (shared between gateway instances on PostgreSQL). */
  createApproval(a: Approval): Promise<void>;
  getApproval(id: string): Promise<Approval | null>;
  listApprovals(f: { status?: string; limit?: number }): Promise<Approval[]>;
  /**
   * Atomic read-modify-write (a row lock on PostgreSQL): `change` sees the current state and returns the new one, or
   * null to leave it as it is. Returns what was stored, or null when absent or unchanged.
   */
  updateApproval(id: string, change: (a: Approval) => Approval | null): Promise<Approval | null>;
  /** Called for every approval created or changed, by this instance or (PostgreSQL) any other. */
  onApprovalChange(listener: (a: Approval) => void): () => void;
  /** Marks the pending approvals of `instanceId` expired (its held statements are gone: it restarted). */
  expireApprovals(instanceId: string): Promise<Approval[]>;

  /** Flushes pending writes and closes. */
  close(): Promise<void>;
}
