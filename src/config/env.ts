import { isSecretPath, joinIndex, joinKey } from './secrets.ts';

export type Env = Record<string, string | undefined>;

export interface Expanded {
  value: unknown;
  /** Key paths of strings that had at least one `${NAME}` replaced (their text may stand for a number or a boolean). */
  expanded: Set<string>;
  /** Key paths whose expansion failed: already reported, so validation says nothing more about them. */
  failed: Set<string>;
}

/**
 * Replaces `${NAME}` in every string value (not in keys) by the environment variable NAME. `$${NAME}` is the escape
 * for a literal `${NAME}`. A missing variable, a malformed reference or an unclosed `${` is a problem reported
 * against the key path; the surrounding text of a secret value is never quoted.
 */
export function expandEnv(value: unknown, env: Env, problem: (path: string, msg: string) => void): Expanded {
  const expanded = new Set<string>();
  const failed = new Set<string>();
  const walk = (v: unknown, path: string): unknown => {
    if (typeof v === 'string') {
      const r = expandString(v, env, path, (p, msg) => {
        failed.add(p);
        problem(p, msg);
      });
      if (r.replaced) expanded.add(path);
      return r.text;
    }
    if (Array.isArray(v)) return v.map((item, i) => walk(item, joinIndex(path, i)));
    if (v !== null && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
      const out: Record<string, unknown> = {};
      for (const [k, item] of Object.entries(v)) out[k] = walk(item, joinKey(path, k));
      return out;
    }
    return v;
  };
  return { value: walk(value, ''), expanded, failed };
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

function expandString(s: string, env: Env, path: string, problem: (path: string, msg: string) => void): { text: string; replaced: boolean } {
  if (!s.includes('${')) return { text: s, replaced: false };
  let out = '';
  let replaced = false;
  let failed = false;
  let i = 0;
  while (i < s.length) {
    const start = s.indexOf('${', i);
    if (start < 0) {
      out += s.slice(i);
      break;
    }
    // `$${` is the escape: emit `${` and copy the reference text through untouched.
    if (start > 0 && s[start - 1] === '$') {
      out += s.slice(i, start - 1) + '${';
      i = start + 2;
      continue;
    }
    out += s.slice(i, start);
    const end = s.indexOf('}', start + 2);
    if (end < 0) {
      problem(path, isSecretPath(path)
        ? 'the value has a "${" without a closing "}" (write $${ for a literal ${)'
        : `${JSON.stringify(s)} has a "\${" without a closing "}" (write $\${ for a literal \${)`);
      return { text: s, replaced };
    }
    const name = s.slice(start + 2, end);
    if (!NAME.test(name)) {
      problem(path, isSecretPath(path)
        ? 'the value has an invalid variable reference (names are letters, digits and _; write $${ for a literal ${)'
        : `"\${${name}}" is not a valid variable reference (names are letters, digits and _; write $\${ for a literal \${)`);
      failed = true;
    } else {
      const val = env[name];
      if (val === undefined) {
        problem(path, `environment variable ${name} is not set`);
        failed = true;
      } else {
        out += val;
        replaced = true;
      }
    }
    i = end + 1;
  }
  return failed ? { text: s, replaced: false } : { text: out, replaced };
}
