/**
 * Every error agentgate itself gives, once: the MySQL errno/SQLSTATE a client receives, the HTTP status the API
 * answers with, and the message prefix. The contract fixes the first five; README.md lists them all and
 * errors.test.ts keeps the two in step.
 */
export interface ErrorSpec {
  errno: number;
  sqlState: string;
  http: number;
  prefix: string;
}

export const ERRORS = {
  LOGIN_REFUSED: { errno: 1045, sqlState: '28000', http: 401, prefix: 'Access denied for user' },
  POLICY_DENIED: { errno: 1227, sqlState: '42000', http: 403, prefix: 'agentgate: denied by policy' },
  APPROVAL_DENIED: { errno: 1227, sqlState: '42000', http: 403, prefix: 'agentgate: approval denied' },
  APPROVAL_TIMED_OUT: { errno: 1227, sqlState: '42000', http: 403, prefix: 'agentgate: approval timed out' },
  AUDIT_UNAVAILABLE: { errno: 1290, sqlState: 'HY000', http: 503, prefix: 'agentgate: audit unavailable' },
  APPROVAL_REQUIRED: { errno: 1227, sqlState: '42000', http: 403, prefix: 'agentgate: approval required' },
  ROW_LIMIT: { errno: 1226, sqlState: '42000', http: 403, prefix: 'agentgate: row limit reached' },
  LOCAL_INFILE_REFUSED: { errno: 1148, sqlState: '42000', http: 403, prefix: 'agentgate: LOAD DATA LOCAL INFILE is not allowed' },
  COMMAND_UNSUPPORTED: { errno: 1047, sqlState: '08S01', http: 400, prefix: 'agentgate: command not supported' },
  PROTOCOL_ERROR: { errno: 1158, sqlState: '08S01', http: 400, prefix: 'agentgate: malformed packet' },
  UPSTREAM_UNAVAILABLE: { errno: 2013, sqlState: 'HY000', http: 502, prefix: 'agentgate: upstream unavailable' },
  SHUTTING_DOWN: { errno: 1053, sqlState: '08S01', http: 503, prefix: 'agentgate: shutting down' },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorName = keyof typeof ERRORS;

/** The message a client sees: the fixed prefix, then the detail. */
export function errorMessage(name: ErrorName, detail?: string): string {
  const { prefix } = ERRORS[name];
  return detail ? `${prefix}: ${detail}` : prefix;
}
