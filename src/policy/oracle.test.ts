import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { cls, ctx, engine, handmade, masking, policy, stmt } from '../../test/helpers/policy.ts';

const masked = masking({ columns: ['app.users.ssn', '*.*.email'], style: 'redact' }, { detect: ['credit_card'], style: 'partial' });
const p = policy({ masking: masked });

function decide(sql: string, pol = p, c = ctx) {
  return engine().decide(pol, cls(sql), c);
}

describe('masked column use (maskedColumnUse)', () => {
  const oracles = [
    ["SELECT id FROM users WHERE ssn LIKE '1%'", /filters, sorts, groups or joins on masked column app\.users\.ssn/],
    ['SELECT id FROM users ORDER BY ssn', /masked column app\.users\.ssn/],
    ['SELECT COUNT(*) FROM users GROUP BY ssn', /masked column app\.users\.ssn/],
    ['SELECT o.id FROM orders o JOIN users u ON u.ssn = o.ref', /masked column app\.users\.ssn/],
    ['SELECT id FROM customers WHERE email = \'a@b.c\'', /masked column app\.customers\.email/],
    ["SELECT id FROM users WHERE (SELECT ssn FROM users LIMIT 1) LIKE '1%'", /masked column app\.users\.ssn/],
    ['UPDATE users SET active = 0 WHERE ssn = \'123-45-6789\'', /masked column app\.users\.ssn/],
    ['SELECT ssn INTO @x FROM users LIMIT 1', /copies masked column app\.users\.ssn into a user variable/],
    ['SELECT @x := ssn FROM users', /copies masked column app\.users\.ssn into a user variable/],
    ['SET @x := (SELECT ssn FROM users LIMIT 1)', /writes values it reads from app\.users into a user variable/],
    ["SELECT ssn FROM users INTO OUTFILE '/tmp/x'", /copies masked column app\.users\.ssn into a file \(INTO OUTFILE\)/],
    ["SELECT * INTO DUMPFILE '/tmp/x' FROM users", /into a file \(INTO DUMPFILE\)/],
    ['INSERT INTO copy SELECT ssn FROM users', /copies values it reads from app\.users into app\.copy/],
    ['CREATE TABLE copy AS SELECT ssn FROM users', /into app\.copy/],
    ['CREATE VIEW v AS SELECT ssn AS x FROM users', /copies masked column app\.users\.ssn into app\.v/],
    ['SELECT * FROM users NATURAL JOIN accounts', /masked column app\.users\.\*/],
    ['DO SLEEP(IF((SELECT ssn FROM users LIMIT 1) LIKE \'1%\', 2, 0))', /./],
  ] as const;
  for (const [sql, why] of oracles) {
    test(`denies ${sql}`, () => {
      const d = decide(sql);
      assert.equal(d.action, 'deny');
      assert.equal(d.rule, 'maskedColumnUse');
      assert.match(d.reason, why);
    });
  }

  const fine = [
    'SELECT ssn FROM users WHERE id = 1',
    'SELECT id FROM users ORDER BY created',
    'SELECT id INTO @x FROM users WHERE id = 1',
    'INSERT INTO users (id, ssn) VALUES (1, \'123-45-6789\')',
    'CREATE TABLE t2 LIKE users',
    'SELECT id FROM orders WHERE ssn = 1',
  ];
  for (const sql of fine) {
    test(`allows ${sql}`, () => {
      assert.equal(decide(sql).action, 'allow', decide(sql).reason);
    });
  }

  test('an unqualified column that could be a masked one counts as masked', () => {
    // `ssn` could be orders.ssn or users.ssn: one candidate is masked.
    assert.equal(decide('SELECT o.id FROM orders o, users u WHERE ssn = 1').rule, 'maskedColumnUse');
  });

  test('approve mode sends it for approval, with the default number of approvers', () => {
    const q = policy({ masking: masked, maskedColumnUse: 'approve' });
    const d = engine([], 2).decide(q, cls("SELECT id FROM users WHERE ssn LIKE '1%'"), ctx);
    assert.equal(d.action, 'approve');
    assert.equal(d.minApprovals, 2);
    assert.match(d.reason, /is sent for approval because it filters/);
  });

  test('applies before the rules: an allow rule does not undo it', () => {
    const q = policy({ masking: masked, rules: [{ kinds: ['select'], action: 'allow' }] });
    assert.equal(decide("SELECT id FROM users WHERE ssn LIKE '1%'", q).rule, 'maskedColumnUse');
    const x = engine().explain(q, cls("SELECT id FROM users WHERE ssn LIKE '1%'"), ctx);
    assert.deepEqual(x.trace.map((t) => [t.rule, t.matched]), [['maskedColumnUse', true]]);
  });

  test('an approval does not weaken a later deny', () => {
    const q = policy({ masking: masked, maskedColumnUse: 'approve', guardrails: 'recommended' });
    const d = decide("SELECT ssn FROM users INTO OUTFILE '/tmp/x'", q);
    assert.equal(d.action, 'deny');
    assert.equal(d.rule, 'recommended/into-outfile');
  });

  test('detectors alone make no column masked', () => {
    const q = policy({ masking: masking({ detect: ['ssn'], style: 'redact' }) });
    assert.equal(decide("SELECT id FROM users WHERE ssn LIKE '1%'", q).action, 'allow');
  });

  test('fails closed on a statement that could not be parsed', () => {
    const d = decide("SELECT a FROM users WHERE ssn LIKE '1%' PROCEDURE ANALYSE()");
    assert.equal(d.action, 'deny');
    assert.match(d.reason, /denied to be safe because it could not be parsed/);
    // An unknown kind of statement could be anything…
    assert.equal(decide("BINLOG 'AAAA'").rule, 'maskedColumnUse');
    // …but statements of kinds that cannot read column values are left to the rules.
    const kill = handmade(stmt({ kinds: ['kill'], text: 'KILL 5 EXTRA', parsed: false }));
    assert.equal(engine().decide(p, kill, ctx).rule, null);
  });

  test('the current database resolves unqualified tables; without one the table could be any', () => {
    assert.equal(decide("SELECT id FROM users WHERE ssn LIKE '1%'", p, { ...ctx, db: 'shop' }).action, 'allow');
    assert.equal(decide("SELECT id FROM users WHERE ssn LIKE '1%'", p, { ...ctx, db: null }).action, 'deny');
  });

  test('statements a PREPARE prepares are checked too', () => {
    const c = handmade(stmt({
      kinds: ['prepare'],
      text: "PREPARE s FROM 'SELECT id FROM users WHERE ssn = ?'",
      prepared: [stmt({ kinds: ['select'], tablesRead: [{ db: null, table: 'users' }], predicateColumns: [{ db: null, table: 'users', column: 'ssn' }] })],
    }));
    assert.equal(engine().decide(p, c, ctx).rule, 'maskedColumnUse');
  });
});
