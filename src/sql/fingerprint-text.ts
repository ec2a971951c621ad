import { tokenize } from './lexer.ts';
import { splitTokens } from './split.ts';
import { fingerprintTokens } from './fingerprint.ts';
import type { ServerFlavor } from './types.ts';

/** The fingerprint classify() would give `sql` (statements joined by ` ; `). */
export function fingerprint(sql: string, flavor: ServerFlavor): string {
  const lx = tokenize(sql, flavor);
  return splitTokens(lx.tokens, sql.length).map((s) => fingerprintTokens(sql, lx.tokens, s.first, s.last)).join(' ; ');
}
