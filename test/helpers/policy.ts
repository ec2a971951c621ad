// Shared by the policy tests: policies with defaults, classifications from the real classifier, column
// definitions, and text/binary rows built with the protocol's own row encoder.
import type { MaskingRuleConfig, PolicyConfig, RuleConfig } from '../../src/config/types.ts';
import type { Identity } from '../../src/identity/types.ts';
import type { ColumnDefinition } from '../../src/protocol/columns.ts';
import { BINARY_CHARSET, ColumnFlag, DEFAULT_CHARSET, Type } from '../../src/protocol/constants.ts';
import { rebuildBinaryRow, rebuildTextRow, type RowColumn } from '../../src/protocol/rows.ts';
import { classify } from '../../src/sql/index.ts';
import type { Classification, StatementInfo } from '../../src/sql/types.ts';
import { createPolicyEngine } from '../../src/policy/index.ts';
import type { PolicyContext, PolicyEngine } from '../../src/policy/types.ts';

export const FLAVOR = { version: 101100, mariadb: true };

export function cls(sql: string): Classification {
  return classify(sql, FLAVOR);
}

/** A classification made by hand, for cases the classifier would not produce from text. */
export function handmade(...statements: StatementInfo[]): Classification {
  return {
    kinds: [...new Set(statements.flatMap((s) => s.kinds))],
    statements,
    fingerprint: 'test',
    parsed: statements.every((s) => s.parsed),
  };
}

export function stmt(s: Partial<StatementInfo> & Pick<StatementInfo, 'kinds'>): StatementInfo {
  return {
    text: s.kinds.join(' ').toUpperCase(),
    tablesRead: [],
    tablesWritten: [],
    unboundedWrite: null,
    predicateColumns: [],
    outputColumns: null,
    into: null,
    localInfile: false,
    parsed: true,
    ...s,
  };
}

/** Rules are numbered `#N` by position unless named. */
export function policy(p: Partial<Omit<PolicyConfig, 'rules'>> & { rules?: (Partial<RuleConfig> & Pick<RuleConfig, 'action'>)[] } = {}): PolicyConfig {
  const { rules = [], ...rest } = p;
  return {
    name: 'agents',
    groups: ['agents'],
    targets: ['app'],
    guardrails: 'none',
    rules: rules.map((r, i) => ({ name: `#${i + 1}`, ...r })),
    masking: [],
    maskedColumnUse: 'deny',
    approvalMode: 'hold',
    retryValidity: 900_000,
    ...rest,
  };
}

export function masking(...m: MaskingRuleConfig[]): MaskingRuleConfig[] {
  return m;
}

export const identity: Identity = { subject: 'agent-1', groups: ['agents'], via: 'service_account' };

export const ctx: PolicyContext = { identity, target: 'app', db: 'app' };

export const HASH_KEY = Buffer.from('0123456789abcdef0123456789abcdef');

export function engine(policies: PolicyConfig[] = [], defaultMinApprovals?: number): PolicyEngine {
  return createPolicyEngine(defaultMinApprovals === undefined ? { policies, hashKey: HASH_KEY } : { policies, hashKey: HASH_KEY, defaultMinApprovals });
}

/** A column definition; origin `app.users.<name>` unless given. */
export function col(name: string, o: Partial<ColumnDefinition> = {}): ColumnDefinition {
  return {
    catalog: 'def',
    schema: 'app',
    table: 'users',
    orgTable: 'users',
    name,
    orgName: name,
    charset: DEFAULT_CHARSET,
    length: 1020,
    type: Type.VAR_STRING,
    flags: 0,
    decimals: 0,
    ...o,
  };
}

/** A computed column (no origin). */
export function computed(name: string, o: Partial<ColumnDefinition> = {}): ColumnDefinition {
  return col(name, { schema: '', table: '', orgTable: '', orgName: '', ...o });
}

export const intCol = (name: string, o: Partial<ColumnDefinition> = {}): ColumnDefinition =>
  col(name, { type: Type.LONG, charset: BINARY_CHARSET, length: 11, flags: ColumnFlag.NOT_NULL, ...o });

export const bigintCol = (name: string, o: Partial<ColumnDefinition> = {}): ColumnDefinition =>
  col(name, { type: Type.LONGLONG, charset: BINARY_CHARSET, length: 20, ...o });

/** A text-protocol row: each value is its text (or bytes), null for SQL NULL. */
export function textRow(values: readonly (string | Buffer | null)[]): Buffer {
  const empty = Buffer.alloc(values.length, 0xfb);
  const spans = new Int32Array(values.length * 2).fill(-1);
  return rebuildTextRow(empty, spans, values.map((v) => (v === null ? null : typeof v === 'string' ? Buffer.from(v) : v)));
}

/** A binary-protocol row: each value already encoded for its column's type (see the encoders below), null for NULL. */
export function binaryRow(columns: readonly RowColumn[], values: readonly (Buffer | null)[]): Buffer {
  const n = columns.length;
  const bitmapLen = (n + 7 + 2) >> 3;
  const empty = Buffer.alloc(1 + bitmapLen, 0xff);
  empty[0] = 0;
  const spans = new Int32Array(n * 2).fill(-1);
  return rebuildBinaryRow(empty, columns, spans, values);
}

export const enc = {
  str: (s: string): Buffer => Buffer.from(s),
  int32: (v: number): Buffer => {
    const b = Buffer.alloc(4);
    if (v < 0) b.writeInt32LE(v);
    else b.writeUInt32LE(v);
    return b;
  },
  int64: (v: bigint): Buffer => {
    const b = Buffer.alloc(8);
    if (v < 0n) b.writeBigInt64LE(v);
    else b.writeBigUInt64LE(v);
    return b;
  },
  double: (v: number): Buffer => {
    const b = Buffer.alloc(8);
    b.writeDoubleLE(v);
    return b;
  },
  /** DATETIME without fraction: length 7, year (2), month, day, hour, minute, second. */
  datetime: (y: number, mo: number, d: number, h: number, mi: number, s: number): Buffer => {
    const b = Buffer.alloc(8);
    b[0] = 7;
    b.writeUInt16LE(y, 1);
    b[3] = mo;
    b[4] = d;
    b[5] = h;
    b[6] = mi;
    b[7] = s;
    return b;
  },
};
