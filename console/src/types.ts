// The API's JSON shapes (docs/api.md), as the console reads them.

export interface Identity {
  subject: string;
  groups: string[];
  via: 'oidc' | 'service_account';
}

export interface Session {
  id: string;
  target: string;
  identity: Identity;
  client: string;
  tls?: boolean;
  startedAt: string;
  endedAt: string | null;
  endCause?: string | null;
  statements: number;
  denied?: number;
  approvals?: number;
  kinds?: string[];
  policy?: string;
}

export interface Column {
  name: string;
  db: string;
  table: string;
  column?: string;
  /** The masking style applied, or null. */
  masked: string | null;
  derivedFrom?: string[];
}

export type Cell = string | null | { base64: string };

export interface Result {
  columns?: Column[];
  rows?: Cell[][];
  rowCount?: number;
  affectedRows?: number;
  lastInsertId?: string;
  warnings?: number;
  truncated?: string;
  error?: { code: number; sqlState?: string; message: string };
}

export interface Decision {
  action: 'allow' | 'deny' | 'approve';
  policy: string;
  rule: string | null;
  reason?: string;
}

export interface Param {
  type: string;
  value: string | number | boolean | null;
  unsigned?: boolean;
  encoding?: 'base64';
}

export interface SessionEvent extends Result {
  seq: number;
  at: string;
  type: string;
  sql?: string;
  params?: Param[];
  stmtId?: number;
  kinds?: string[];
  decision?: Decision;
  approval?: { id: string; status: string; by?: string[]; reason?: string };
  db?: string;
  results?: Result[];
  durationMs?: number;
  detail?: Record<string, unknown>;
}

export interface SessionWithEvents extends Session {
  events: SessionEvent[];
}

export type ApprovalStatus = 'pending' | 'approved' | 'denied' | 'timed_out' | 'expired';

export interface Approval {
  id: string;
  sessionId: string;
  target: string;
  identity: Identity;
  sql: string;
  params?: Param[];
  kinds: string[];
  policy?: string;
  rule?: string | null;
  estimatedRows?: number;
  status: ApprovalStatus;
  mode?: 'hold' | 'retry';
  minApprovals?: number;
  votes?: { by: string; decision: 'approve' | 'deny'; reason?: string; at: string }[];
  createdAt: string;
  expiresAt?: string;
  decidedAt: string | null;
  decidedBy: string | null;
  reason: string | null;
}

export interface VerifyResult {
  ok: boolean;
  events: number;
  firstBad: { sessionId: string; seq: number } | null;
  problem?: string;
  checkpoints?: number;
  records?: number;
  stubs?: number;
  streams?: number;
  unanchored?: number;
}

export interface SearchHit {
  sessionId: string;
  seq: number;
  column: string;
}

export interface Me {
  name: string;
  groups: string[];
  approver: boolean;
  approvers: string[];
}

export interface ConsoleConfig {
  oidc: null | {
    issuer: string;
    clientId: string;
    scopes: string[];
    authorizationEndpoint: string | null;
    problem?: string;
  };
}

export const STATEMENT_KINDS = [
  'select', 'insert', 'update', 'delete', 'replace', 'create', 'alter', 'drop', 'truncate', 'rename', 'grant', 'revoke',
  'set', 'use', 'show', 'describe', 'explain', 'call', 'do', 'load_data', 'into_outfile', 'lock', 'transaction',
  'prepare', 'kill', 'flush', 'other',
] as const;
