import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { cls, ctx, engine, FLAVOR, handmade, identity, policy, stmt } from '../../test/helpers/policy.ts';
import { literalVariants, template } from '../../test/helpers/sql-templates.ts';
import { ClassifierCache, shapeRepresentative } from '../sql/cache.ts';
import { classify } from '../sql/classify.ts';

describe('selectPolicy', () => {
  const a = policy({ name: 'a', groups: ['ops'], targets: ['app'] });
  const b = policy({ name: 'b', groups: ['agents', 'ci'], targets: ['other', 'app'] });
  const c = policy({ name: 'c', groups: ['agents'], targets: ['*'] });
  const e = engine([a, b, c]);

  test('the first policy whose groups intersect and whose targets include the target', () => {
    assert.equal(e.selectPolicy(identity, 'app')?.name, 'b');
    assert.equal(e.selectPolicy({ ...identity, groups: ['ops', 'agents'] }, 'app')?.name, 'a');
  });
  test('`*` matches any target', () => {
    assert.equal(e.selectPolicy(identity, 'reports')?.name, 'c');
  });
  test('no policy: null (the login is refused)', () => {
    assert.equal(e.selectPolicy({ ...identity, groups: ['nobody'] }, 'app'), null);
    assert.equal(e.selectPolicy({ ...identity, groups: [] }, 'app'), null);
    assert.equal(engine([a]).selectPolicy(identity, 'app'), null);
  });
});

describe('rule matching', () => {
  test('no rule: allowed by default, rule null', () => {
    const d = engine().decide(policy(), cls('DELETE FROM t WHERE id = 1'), ctx);
    assert.equal(d.action, 'allow');
    assert.equal(d.rule, null);
    assert.equal(d.policy, 'agents');
    assert.match(d.reason, /No rule of policy "agents" matches DELETE on app\.t/);
  });

  test('kinds: any of them; the first matching rule decides', () => {
    const p = policy({ rules: [{ kinds: ['drop', 'truncate'], action: 'approve', minApprovals: 2 }, { kinds: ['drop'], action: 'deny' }] });
    const d = engine().decide(p, cls('DROP TABLE users'), ctx);
    assert.equal(d.action, 'approve');
    assert.equal(d.rule, '#1');
    assert.equal(d.minApprovals, 2);
    assert.equal(d.mode, 'hold');
    assert.match(d.reason, /^Rule "#1" sends for approval DROP TABLE on app\.users \(kind drop\)\.$/);
    assert.equal(engine().decide(p, cls('SELECT 1'), ctx).action, 'allow');
  });

  test('named rules are reported by name; mode is the policy\'s approvalMode', () => {
    const p = policy({ approvalMode: 'retry', rules: [{ name: 'no-truncate', kinds: ['truncate'], action: 'approve' }] });
    const d = engine([], 3).decide(p, cls('TRUNCATE TABLE logs'), ctx);
    assert.equal(d.rule, 'no-truncate');
    assert.equal(d.mode, 'retry');
    assert.equal(d.minApprovals, 3, 'no minApprovals on the rule: the engine default');
    assert.equal(engine().decide(p, cls('TRUNCATE TABLE logs'), ctx).minApprovals, 1);
  });

  test('tables: db.table patterns with * per part, unqualified names resolved with the current db, any case', () => {
    const p = policy({ rules: [{ kinds: ['update', 'delete'], tables: ['app.payments'], action: 'approve' }] });
    const e = engine();
    assert.equal(e.decide(p, cls('UPDATE payments SET a = 1 WHERE id = 2'), ctx).action, 'approve');
    assert.equal(e.decide(p, cls('DELETE FROM APP.Payments WHERE id = 2'), ctx).action, 'approve');
    assert.equal(e.decide(p, cls('UPDATE other.payments SET a = 1 WHERE id = 2'), ctx).action, 'allow');
    assert.equal(e.decide(p, cls('UPDATE payments SET a = 1 WHERE id = 2'), { ...ctx, db: 'shop' }).action, 'allow');
    assert.equal(e.decide(p, cls('SELECT * FROM payments'), ctx).action, 'allow', 'kinds must hold too');
    // Tables read count as well as tables written.
    const q = policy({ rules: [{ tables: ['*.secrets'], action: 'deny' }] });
    assert.equal(e.decide(q, cls('SELECT s.v FROM vault.secrets s'), ctx).action, 'deny');
    assert.equal(e.decide(q, cls('INSERT INTO log SELECT v FROM secrets'), ctx).action, 'deny');
    const r = policy({ rules: [{ tables: ['app.*'], action: 'deny' }] });
    assert.equal(e.decide(r, cls('SELECT 1 FROM app.anything'), ctx).action, 'deny');
    assert.equal(e.decide(r, cls('SELECT 1 FROM other.anything'), ctx).action, 'allow');
  });

  test('tables: DROP DATABASE touches every table of the database', () => {
    const p = policy({ rules: [{ tables: ['app.payments'], action: 'deny' }] });
    assert.equal(engine().decide(p, cls('DROP DATABASE app'), ctx).action, 'deny');
    assert.equal(engine().decide(p, cls('DROP DATABASE other'), ctx).action, 'allow');
  });

  test('tables: an unqualified table with no current database fails closed', () => {
    const deny = policy({ rules: [{ tables: ['app.payments'], action: 'deny' }] });
    const d = engine().decide(deny, cls('DELETE FROM payments WHERE id = 1'), { ...ctx, db: null });
    assert.equal(d.action, 'deny');
    assert.match(d.reason, /to be safe, because table payments has no database and no current database is selected/);
    const allow = policy({ rules: [{ tables: ['app.payments'], action: 'allow' }, { action: 'deny' }] });
    assert.equal(engine().decide(allow, cls('DELETE FROM payments WHERE id = 1'), { ...ctx, db: null }).rule, '#2');
    // `*.payments` does not need the database.
    const star = policy({ rules: [{ tables: ['*.payments'], action: 'allow' }, { action: 'deny' }] });
    assert.equal(engine().decide(star, cls('DELETE FROM payments WHERE id = 1'), { ...ctx, db: null }).rule, '#1');
  });

  test('unboundedWrite: true matches UPDATE/DELETE that can touch every row, false the others', () => {
    const p = policy({ rules: [{ unboundedWrite: true, action: 'deny' }, { unboundedWrite: false, kinds: ['delete'], action: 'approve' }] });
    const e = engine();
    const d = e.decide(p, cls('UPDATE users SET active = 0'), ctx);
    assert.equal(d.action, 'deny');
    assert.match(d.reason, /Rule "#1" denies UPDATE on app\.users \(it has no WHERE that limits the rows, so it can touch every row\)/);
    assert.equal(e.decide(p, cls('DELETE FROM users WHERE 1 = 1'), ctx).action, 'deny');
    assert.equal(e.decide(p, cls('DELETE FROM users WHERE id = 7'), ctx).action, 'approve');
    assert.equal(e.decide(p, cls('INSERT INTO users (id) VALUES (1)'), ctx).action, 'allow');
    assert.equal(e.decide(p, cls('SELECT * FROM users'), ctx).action, 'allow');
  });

  test('minRows: asks for the EXPLAIN estimate, then decides with it', () => {
    const p = policy({ rules: [{ kinds: ['delete'], tables: ['app.users'], action: 'deny' }, { minRows: 1000, action: 'approve' }] });
    const e = engine();
    const c = cls('DELETE FROM logs WHERE created < NOW() - INTERVAL 1 DAY');
    const first = e.decide(p, c, ctx);
    assert.equal(first.needsEstimate, true);
    assert.deepEqual(first.estimateStatements, ['DELETE FROM logs WHERE created < NOW() - INTERVAL 1 DAY']);
    assert.equal(first.action, 'deny', 'a gateway that ignores needsEstimate does not run the statement');
    assert.equal(first.rule, '#2');
    const big = e.decide(p, c, ctx, 50_000);
    assert.equal(big.action, 'approve');
    assert.equal(big.needsEstimate, undefined);
    assert.match(big.reason, /estimate is 50000 rows, at least 1000/);
    assert.equal(e.decide(p, c, ctx, 10).action, 'allow');
    assert.equal(e.decide(p, c, ctx, Infinity).action, 'approve', 'no estimate obtainable: fail closed');
    // A rule that already decided needs no estimate; a statement minRows cannot apply to needs none either.
    assert.equal(e.decide(p, cls('DELETE FROM users WHERE id = 1'), ctx).needsEstimate, undefined);
    assert.equal(e.decide(p, cls('SELECT * FROM logs'), ctx).needsEstimate, undefined);
  });

  test('multi-statement: each statement is judged, the strictest decision wins', () => {
    const p = policy({ rules: [{ kinds: ['select'], action: 'allow' }, { kinds: ['drop'], action: 'deny' }] });
    const d = engine().decide(p, cls('SELECT 1; DROP TABLE users'), ctx);
    assert.equal(d.action, 'deny');
    assert.equal(d.rule, '#2');
    assert.match(d.reason, /DROP TABLE on app\.users \(statement 2\)/);
    const q = policy({ rules: [{ kinds: ['update'], action: 'approve' }, { kinds: ['delete'], action: 'approve', minApprovals: 2 }] });
    const a = engine().decide(q, cls('UPDATE t SET a = 1 WHERE id = 1; DELETE FROM t WHERE id = 2'), ctx);
    assert.equal(a.action, 'approve');
    assert.equal(a.minApprovals, 2, 'the approval that asks most');
  });

  test('an allow rule vouches only for the kinds it lists (select being implied by any other)', () => {
    const p = policy({ rules: [{ kinds: ['select'], action: 'allow' }, { kinds: ['into_outfile'], action: 'deny' }] });
    const d = engine().decide(p, cls("SELECT a FROM t INTO OUTFILE '/tmp/a'"), ctx);
    assert.equal(d.action, 'deny');
    assert.equal(d.rule, '#2');
    const q = policy({ rules: [{ kinds: ['update'], action: 'allow' }, { action: 'deny' }] });
    assert.equal(engine().decide(q, cls('UPDATE t SET a = 1 WHERE id IN (SELECT id FROM u)'), ctx).rule, '#1');
    assert.equal(engine().decide(q, cls('SELECT 1'), ctx).rule, '#2');
  });

  test('fail closed: an unparsed statement matches deny/approve rules whose conditions cannot be checked, never allow rules', () => {
    // The parser does not accept this; the fallback classifies it from its tokens.
    const c = cls('UPDATE users SET a = 1 WHERE id = 1 PROCEDURE ANALYSE()');
    assert.equal(c.parsed, false);
    const deny = policy({ rules: [{ tables: ['app.payments'], action: 'deny' }] });
    const d = engine().decide(deny, c, ctx);
    assert.equal(d.action, 'deny');
    assert.match(d.reason, /to be safe, because its tables are not known \(it could not be parsed\)/);
    const allow = policy({ rules: [{ kinds: ['update'], action: 'allow' }, { kinds: ['update'], action: 'approve' }] });
    const a = engine().explain(allow, c, ctx);
    assert.equal(a.action, 'approve');
    assert.equal(a.trace[0]!.matched, false);
    assert.match(a.trace[0]!.why, /never vouches for a statement that could not be parsed/);
  });

  test('fail closed: a procedure\'s tables are not known', () => {
    const p = policy({ rules: [{ tables: ['app.payments'], action: 'approve' }] });
    assert.equal(engine().decide(p, cls('CALL cleanup()'), ctx).action, 'approve');
    const q = policy({ rules: [{ kinds: ['call'], tables: ['app.reports'], action: 'allow' }, { action: 'deny' }] });
    assert.equal(engine().decide(q, cls('CALL cleanup()'), ctx).rule, '#2');
  });

  test('fail closed: an UPDATE whose WHERE is unknown matches unboundedWrite rules', () => {
    const c = handmade(stmt({ kinds: ['update'], text: 'UPDATE t SET a = 1 WHERE x', tablesWritten: [{ db: null, table: 't' }], unboundedWrite: null }));
    const d = engine().decide(policy({ rules: [{ unboundedWrite: true, action: 'deny' }] }), c, ctx);
    assert.equal(d.action, 'deny');
    assert.match(d.reason, /whether its WHERE limits the rows is not known/);
  });

  test('PREPARE is judged by the statement it prepares', () => {
    const p = policy({ rules: [{ kinds: ['drop'], action: 'deny' }] });
    assert.equal(engine().decide(p, cls("PREPARE s FROM 'DROP TABLE users'"), ctx).action, 'deny');
    // Even when the outer statement does not carry the inner kinds.
    const c = handmade(stmt({ kinds: ['prepare'], text: "PREPARE s FROM 'DROP TABLE users'", prepared: [stmt({ kinds: ['drop'], text: 'DROP TABLE users', tablesWritten: [{ db: null, table: 'users' }], object: 'table' })] }));
    const d = engine().decide(p, c, ctx);
    assert.equal(d.action, 'deny');
    assert.match(d.reason, /DROP TABLE on app\.users \(prepared by the statement\)/);
  });

  test('PREPARE from a variable: its statement is unknown, so deny/approve rules apply to it', () => {
    const p = policy({ rules: [{ kinds: ['drop'], action: 'deny' }] });
    const d = engine().decide(p, cls('PREPARE s FROM @q'), ctx);
    assert.equal(d.action, 'deny');
    assert.match(d.reason, /a statement whose text is in a variable/);
    const a = engine().decide(policy({ rules: [{ kinds: ['prepare'], action: 'allow' }] }), cls('PREPARE s FROM @q'), ctx);
    assert.equal(a.action, 'allow', 'with no deny rule it stays allowed (the recommended pack would deny it)');
  });

  test('statements inside an anonymous block or a routine body are judged too', () => {
    const p = policy({ rules: [{ kinds: ['drop'], action: 'deny' }] });
    assert.equal(engine().decide(p, cls('CREATE PROCEDURE p() BEGIN DROP TABLE users; END'), ctx).action, 'deny');
    const block = engine().decide(policy({ rules: [{ unboundedWrite: true, action: 'deny' }] }), cls('BEGIN NOT ATOMIC DELETE FROM t; END'), ctx);
    assert.equal(block.action, 'deny');
  });

  test('ANALYZE runs its statement, EXPLAIN does not', () => {
    const p = policy({ rules: [{ unboundedWrite: true, action: 'deny' }] });
    assert.equal(engine().decide(p, cls('ANALYZE DELETE FROM t'), ctx).action, 'deny');
    assert.equal(engine().decide(p, cls('EXPLAIN DELETE FROM t'), ctx).action, 'allow');
  });

  test('explain: the same decision, with every rule considered and why', () => {
    const p = policy({
      guardrails: 'recommended',
      rules: [{ kinds: ['select'], action: 'allow' }, { name: 'pay', kinds: ['update'], tables: ['app.payments'], action: 'approve' }],
    });
    const e = engine();
    const c = cls('DELETE FROM orders');
    const x = e.explain(p, c, ctx);
    const { trace, ...decision } = x;
    assert.deepEqual(decision, e.decide(p, c, ctx));
    assert.equal(x.rule, 'recommended/unbounded-write');
    assert.deepEqual(trace.slice(0, 2).map((t) => [t.rule, t.matched]), [['#1', false], ['pay', false]]);
    assert.match(trace[1]!.why, /kind delete is not among update/);
    const last = trace[trace.length - 1]!;
    assert.deepEqual([last.rule, last.matched], ['recommended/unbounded-write', true]);
    assert.ok(trace.some((t) => t.rule === 'recommended/drop-table' && !t.matched));
  });

  test('LOAD DATA LOCAL INFILE needs an explicit allow rule with kinds [load_data]', () => {
    const c = cls("LOAD DATA LOCAL INFILE '/tmp/x.csv' INTO TABLE imports");
    const bare = engine().decide(policy(), c, ctx);
    assert.equal(bare.action, 'allow');
    assert.equal(bare.allowLocalInfile, undefined);
    assert.match(bare.reason, /file transfer of LOAD DATA LOCAL INFILE will be refused/);
    const catchAll = engine().decide(policy({ rules: [{ action: 'allow' }] }), c, ctx);
    assert.equal(catchAll.allowLocalInfile, undefined, 'a catch-all allow is not explicit');
    const explicit = engine().decide(policy({ guardrails: 'recommended', rules: [{ kinds: ['load_data'], tables: ['app.imports'], action: 'allow' }] }), c, ctx);
    assert.equal(explicit.action, 'allow');
    assert.equal(explicit.allowLocalInfile, true);
    const pack = engine().decide(policy({ guardrails: 'recommended' }), c, ctx);
    assert.equal(pack.action, 'deny');
    assert.equal(pack.rule, 'recommended/load-data');
    // The server-side form is not a client file transfer.
    const server = engine().decide(policy({ rules: [{ kinds: ['load_data'], action: 'allow' }] }), cls("LOAD DATA INFILE '/x' INTO TABLE t"), ctx);
    assert.equal(server.allowLocalInfile, undefined);
  });

  test('an empty text decides nothing', () => {
    const d = engine().decide(policy({ rules: [{ action: 'deny' }] }), cls('/* just a comment */'), ctx);
    assert.equal(d.action, 'allow');
  });
});

describe('decisions by shape of text', () => {
  const guarded = policy({
    guardrails: 'recommended',
    rules: [
      { name: 'no-unbounded', kinds: ['delete', 'update'], unboundedWrite: true, action: 'deny' },
      { name: 'users-writes', kinds: ['insert', 'update'], tables: ['app.users'], action: 'approve', minApprovals: 2 },
    ],
    masking: [{ columns: ['app.users.ssn', 'app.t.b'], style: 'partial' }],
  });
  const approving = policy({ name: 'approving', masking: [{ columns: ['*.*.ssn'], style: 'redact' }], maskedColumnUse: 'approve' });
  const estimating = policy({ name: 'estimating', rules: [{ kinds: ['delete', 'update'], minRows: 100, action: 'approve' }] });

  test('property: a text of a shape already decided gets the decision its own evaluation gives', () => {
    const cache = new ClassifierCache({ maxEntries: 500 });
    const e = engine();
    const fresh = engine();
    let shared = 0;
    fc.assert(fc.property(template, fc.constantFrom(guarded, approving, estimating), fc.constantFrom('app', 'other', null), (sql, p, db) => {
      const c = { ...ctx, db };
      for (const v of literalVariants(sql)) {
        const viaCache = cache.classify(v, FLAVOR);
        const got = e.decide(p, viaCache, c);
        if (got === e.decide(p, viaCache, c) && shapeRepresentative(viaCache) !== viaCache) shared++;
        // A fresh classification and a fresh engine: nothing can be reused.
        assert.deepEqual(got, fresh.decide(p, classify(v, FLAVOR), c), v);
      }
    }), { numRuns: 3000 });
    assert.ok(cache.shapeHits > 500 && shared > 500, `${cache.shapeHits} shape hits, ${shared} shared decisions`);
  });

  test('texts of one shape share the decision under one policy and schema; another schema or policy decides again', () => {
    const cache = new ClassifierCache();
    const e = engine();
    const a = e.decide(guarded, cache.classify('SELECT a FROM t WHERE b = 1', FLAVOR), ctx);
    const b = e.decide(guarded, cache.classify('SELECT a FROM t WHERE b = 2', FLAVOR), ctx);
    assert.equal(a.action, 'deny'); // filters on the masked app.t.b
    assert.equal(b, a);
    // Under another schema `t` is another table, which masks nothing.
    const other = e.decide(guarded, cache.classify('SELECT a FROM t WHERE b = 3', FLAVOR), { ...ctx, db: 'other' });
    assert.equal(other.action, 'allow');
    assert.equal(e.decide(approving, cache.classify('SELECT a FROM t WHERE b = 4', FLAVOR), ctx).policy, 'approving');
  });

  test('a decision that waits for a row estimate names each text, so it is never shared', () => {
    const cache = new ClassifierCache();
    const e = engine();
    for (const id of [1, 2, 3]) {
      const d = e.decide(estimating, cache.classify(`DELETE FROM t WHERE a = ${id}`, FLAVOR), ctx);
      assert.equal(d.needsEstimate, true);
      assert.deepEqual(d.estimateStatements, [`DELETE FROM t WHERE a = ${id}`]);
    }
    assert.equal(cache.shapeHits, 2);
  });
});
