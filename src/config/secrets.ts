/**
 * Key paths whose values are secrets. Error messages never quote these values (they say "the value" instead) and
 * `redactConfig` hides them. `audit.store` and `approvals.webhook` are here because a PostgreSQL URL carries a
 * password and a webhook URL (Slack's, for one) is itself the credential.
 */
const SECRET_PATHS: readonly RegExp[] = [
  /^targets\[\d+\]\.upstream\.password$/,
  /^identity\.serviceAccounts\[\d+\]\.secret$/,
  /^identity\.admins\[\d+\]\.token$/,
  /^approvals\.webhookSecret$/,
  /^approvals\.webhook$/,
  /^masking\.hashKey$/,
  /^audit\.store$/,
];

export function isSecretPath(path: string): boolean {
  return SECRET_PATHS.some((re) => re.test(path));
}

export function joinKey(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}

export function joinIndex(path: string, i: number): string {
  return `${path}[${i}]`;
}
