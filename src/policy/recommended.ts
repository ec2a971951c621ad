import type { StatementInfo, StatementKind } from '../sql/types.ts';
import type { Tri } from './oracle.ts';
import type { Judged } from './statements.ts';
import { afterSkipping, firstWordIndex, wordsOf, type Words } from './words.ts';

/**
 * The ready pack (`guardrails: recommended`): named rules evaluated after a policy's own rules, so a policy extends
 * or overrides any of them by writing an earlier rule (e.g. `kinds: [truncate], tables: [app.scratch_*]`… `allow`).
 * Every entry denies. The table below is the single source: README quotes it through `RECOMMENDED_TABLE`.
 *
 * Choices worth knowing:
 * - DROP DATABASE/SCHEMA is denied. DROP TABLE and TRUNCATE are denied as well (not sent for approval): both lose
 *   data that no rollback returns, and a pack that only asks would train approvers to click through. A policy that
 *   wants approval instead writes `kinds: [drop, truncate], action: approve` before the pack. DROP TEMPORARY TABLE
 *   is left alone: it can only drop the session's own temporary tables.
 * - Whatever cannot be told apart fails closed: a DROP whose object is unknown counts as a DROP TABLE; an UPDATE or
 *   DELETE whose WHERE is unknown counts as unbounded; a statement the classifier could not parse is denied unless
 *   it plainly only reads (its first word is SELECT, SHOW, DESCRIBE/DESC, EXPLAIN without ANALYZE, USE or HELP).
 */

export interface PackFinding {
  result: Tri;
  /** What was found (true) or why it is not known ('unknown'). */
  why: string;
}

export interface PackRule {
  /** Shown as `recommended/<name>`. */
  name: string;
  /** What it denies, for README and `policy explain`. */
  covers: string;
  /** Why, as the end of a reason sentence. */
  because: string;
  test(j: Judged): PackFinding;
}

const NO: PackFinding = { result: false, why: '' };

function yes(why: string): PackFinding {
  return { result: true, why };
}

function has(s: StatementInfo, k: StatementKind): boolean {
  return s.kinds.includes(k);
}

/** The words after the statement's first word, skipping `OR REPLACE`, `IF [NOT] EXISTS`, `DEFINER = …` noise. */
const CREATE_NOISE = new Set(['OR', 'REPLACE', 'IF', 'NOT', 'EXISTS', 'TEMPORARY', 'AGGREGATE', 'ONLINE', 'OFFLINE']);

function verbAndObject(w: Words): { verb: string | null; object: string | null; at: number } {
  const i = firstWordIndex(w);
  if (i < 0) return { verb: null, object: null, at: -1 };
  const j = afterSkipping(w, i + 1, CREATE_NOISE);
  return { verb: w.list[i]!, object: w.list[j] ?? null, at: j };
}

const DROP_OBJECTS_OTHER = new Set([
  'VIEW', 'INDEX', 'PROCEDURE', 'FUNCTION', 'TRIGGER', 'EVENT', 'USER', 'ROLE', 'SERVER', 'SEQUENCE', 'PACKAGE',
  'TABLESPACE', 'LOGFILE', 'SPATIAL', 'RESOURCE', 'PREPARE',
]);

const GLOBAL_SCOPES = new Set(['GLOBAL', 'PERSIST', 'PERSIST_ONLY', '@@GLOBAL', '@@PERSIST', '@@PERSIST_ONLY']);

const READ_ONLY_FIRST = new Set(['SELECT', 'SHOW', 'DESCRIBE', 'DESC', 'EXPLAIN', 'USE', 'HELP']);
const READ_ONLY_KINDS: ReadonlySet<StatementKind> = new Set<StatementKind>(['select', 'show', 'describe', 'explain', 'use']);

/** A statement that could not be parsed but plainly only reads: the fail-closed rule lets it through. */
export function plainlyReadOnly(j: Judged): boolean {
  if (j.unknown) return false;
  const s = j.info;
  if (!s.kinds.every((k) => READ_ONLY_KINDS.has(k)) || s.into !== null || s.localInfile) return false;
  const w = wordsOf(s);
  if (w.truncated) return false;
  const i = firstWordIndex(w);
  if (i < 0 || !READ_ONLY_FIRST.has(w.list[i]!)) return false;
  // EXPLAIN ANALYZE runs the statement it explains.
  if ((w.list[i] === 'EXPLAIN' || w.list[i] === 'DESCRIBE' || w.list[i] === 'DESC') && w.list.includes('ANALYZE')) return false;
  return true;
}

export const RECOMMENDED_RULES: readonly PackRule[] = [
  {
    name: 'drop-database',
    covers: 'DROP DATABASE, DROP SCHEMA',
    because: 'dropping a database loses every table in it',
    test(j) {
      if (!has(j.info, 'drop')) return NO;
      const o = j.info.object?.toLowerCase();
      if (o === 'database' || o === 'schema') return yes('it drops a database');
      const { verb, object } = verbAndObject(wordsOf(j.info));
      if (verb === 'DROP' && (object === 'DATABASE' || object === 'SCHEMA')) return yes('it drops a database');
      return NO;
    },
  },
  {
    name: 'drop-table',
    covers: 'DROP TABLE, TRUNCATE, ALTER TABLE … DROP/TRUNCATE PARTITION (not DROP TEMPORARY TABLE)',
    because: 'dropping or emptying a table loses data that no rollback returns',
    test(j) {
      const s = j.info;
      if (has(s, 'truncate')) return yes('it truncates a table');
      const w = wordsOf(s);
      const i = firstWordIndex(w);
      if (has(s, 'alter') && i >= 0 && w.list[i] === 'ALTER') {
        for (let k = i + 1; k + 1 < w.list.length; k++) {
          if ((w.list[k] === 'DROP' || w.list[k] === 'TRUNCATE') && w.list[k + 1] === 'PARTITION') {
            return yes(`it ${w.list[k] === 'DROP' ? 'drops' : 'truncates'} a partition`);
          }
        }
      }
      if (!has(s, 'drop')) return NO;
      if (i >= 0 && w.list[i] === 'DROP' && w.list[i + 1] === 'TEMPORARY') return NO;
      const o = s.object?.toLowerCase();
      if (o === 'table' || o === 'tables') return yes('it drops a table');
      if (o !== undefined) return NO;
      const { verb, object } = verbAndObject(w);
      if (verb === 'DROP' && (object === 'TABLE' || object === 'TABLES')) return yes('it drops a table');
      if (verb === 'DROP' && object !== null && (DROP_OBJECTS_OTHER.has(object) || object === 'DATABASE' || object === 'SCHEMA')) return NO;
      // A drop of something we cannot name: count it as a table.
      return { result: 'unknown', why: 'it drops something whose kind could not be determined' };
    },
  },
  {
    name: 'accounts',
    covers: 'GRANT, REVOKE, CREATE/DROP/ALTER/RENAME USER, CREATE/DROP ROLE, SET PASSWORD, SET DEFAULT ROLE',
    because: 'accounts and privileges are managed by administrators, not through the gateway',
    test(j) {
      const s = j.info;
      if (has(s, 'grant') || has(s, 'revoke')) return yes('it grants or revokes privileges');
      const o = s.object?.toLowerCase();
      if ((o === 'user' || o === 'role') && (has(s, 'create') || has(s, 'drop') || has(s, 'alter') || has(s, 'rename'))) {
        return yes(`it changes a ${o}`);
      }
      const { verb, object } = verbAndObject(wordsOf(s));
      if ((verb === 'CREATE' || verb === 'DROP' || verb === 'ALTER' || verb === 'RENAME') && (object === 'USER' || object === 'ROLE')) {
        return yes(`it changes a ${object.toLowerCase()}`);
      }
      if (verb === 'GRANT' || verb === 'REVOKE') return yes('it grants or revokes privileges');
      if (verb === 'SET' && (object === 'PASSWORD' || object === 'DEFAULT')) return yes('it changes an account');
      return NO;
    },
  },
  {
    name: 'load-data',
    covers: 'LOAD DATA [LOCAL] INFILE, LOAD XML',
    because: 'bulk loads bypass row-level review and LOCAL makes the client send a file',
    test(j) {
      if (has(j.info, 'load_data') || j.info.localInfile) return yes('it loads a file into a table');
      const { verb, object } = verbAndObject(wordsOf(j.info));
      if (verb === 'LOAD' && (object === 'DATA' || object === 'XML')) return yes('it loads a file into a table');
      return NO;
    },
  },
  {
    name: 'into-outfile',
    covers: 'SELECT … INTO OUTFILE / INTO DUMPFILE',
    because: 'it writes query results to the database server\'s file system, out of the audit trail',
    test(j) {
      if (has(j.info, 'into_outfile') || j.info.into === 'outfile' || j.info.into === 'dumpfile') return yes('it writes results to a server file');
      return NO;
    },
  },
  {
    name: 'set-global',
    covers: 'SET GLOBAL, SET PERSIST, SET PERSIST_ONLY, SET @@global.x / @@persist.x',
    because: 'server-wide settings affect every session and outlive this one',
    test(j) {
      if (!has(j.info, 'set')) return NO;
      const w = wordsOf(j.info);
      // A scope counts where an assignment starts: right after SET, or after a comma outside parentheses.
      // `SET @x = @@global.max_connections` only reads the global value.
      let depth = 0;
      let start = false;
      for (const t of w.list) {
        if (start && GLOBAL_SCOPES.has(t)) return yes('it changes a global setting');
        if (t === '(') depth++;
        else if (t === ')') depth = Math.max(0, depth - 1);
        start = depth === 0 && (t === 'SET' || t === ',');
      }
      if (w.truncated) return { result: 'unknown', why: 'the SET statement is too long to check for GLOBAL' };
      return NO;
    },
  },
  {
    name: 'unbounded-write',
    covers: 'UPDATE or DELETE that can touch every row (no WHERE that limits it)',
    because: 'a write without a limiting WHERE touches every row of the table',
    test(j) {
      const s = j.info;
      if (!has(s, 'update') && !has(s, 'delete')) return NO;
      if (s.unboundedWrite === true) return yes('it has no WHERE that limits the rows');
      if (s.unboundedWrite === null || !s.parsed) return { result: 'unknown', why: 'whether its WHERE limits the rows is not known' };
      return NO;
    },
  },
  {
    name: 'kill',
    covers: 'KILL, KILL CONNECTION, KILL QUERY',
    because: 'it ends other sessions\' work',
    test(j) {
      if (has(j.info, 'kill')) return yes('it kills a connection or query');
      const { verb } = verbAndObject(wordsOf(j.info));
      return verb === 'KILL' ? yes('it kills a connection or query') : NO;
    },
  },
  {
    name: 'shutdown',
    covers: 'SHUTDOWN, RESTART',
    because: 'it stops the database server for everyone',
    test(j) {
      const { verb } = verbAndObject(wordsOf(j.info));
      return verb === 'SHUTDOWN' || verb === 'RESTART' ? yes('it stops the server') : NO;
    },
  },
  {
    name: 'plugins',
    covers: 'INSTALL/UNINSTALL PLUGIN, INSTALL/UNINSTALL SONAME, CREATE FUNCTION … SONAME',
    because: 'it loads native code into the database server',
    test(j) {
      const w = wordsOf(j.info);
      const { verb, object, at } = verbAndObject(w);
      if ((verb === 'INSTALL' || verb === 'UNINSTALL') && (object === 'PLUGIN' || object === 'SONAME')) {
        return yes(`it ${verb === 'INSTALL' ? 'installs' : 'uninstalls'} a plugin`);
      }
      if (verb === 'CREATE' && object === 'FUNCTION' && at >= 0 && w.list.indexOf('SONAME', at) >= 0) {
        return yes('it creates a function from a shared library');
      }
      if (verb === 'CREATE' && object === 'FUNCTION' && w.truncated) {
        return { result: 'unknown', why: 'the CREATE FUNCTION statement is too long to check for SONAME' };
      }
      return NO;
    },
  },
  {
    name: 'unparsed',
    covers: 'statements that could not be parsed and are not plainly read-only',
    because: 'a statement the gateway cannot understand cannot be checked against the other guardrails',
    test(j) {
      if (j.unknown) return yes('its text is in a variable');
      if (j.info.parsed || plainlyReadOnly(j)) return NO;
      return yes('it could not be parsed');
    },
  },
];

/** The pack as rows (`rule | denies | why`), for README and `policy explain --json`. */
export const RECOMMENDED_TABLE: readonly { rule: string; denies: string; why: string }[] = RECOMMENDED_RULES.map((r) => ({
  rule: `recommended/${r.name}`,
  denies: r.covers,
  why: r.because,
}));

/** The pack as a Markdown table, for README. */
export function recommendedMarkdown(): string {
  const rows = RECOMMENDED_TABLE.map((r) => `| \`${r.rule}\` | ${r.denies} | ${r.why} |`);
  return ['| rule | denies | why |', '|---|---|---|', ...rows].join('\n');
}
