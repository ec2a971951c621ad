import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseConfig } from './index.ts';
import { FILE, memFiles, problemsOf, problemsOfText } from '../../test/helpers/config.ts';

const base = (upstream: string, extra = '') => `
targets:
  - name: app
    listen: 127.0.0.1:3307
    upstream:
${upstream.split('\n').map((l) => `      ${l}`).join('\n')}
identity:
  serviceAccounts:
    - name: ci
      secret: s3cret-value-123
policies:
  - groups: [ci]
    targets: [app]
${extra}`;

describe('${NAME} expansion', () => {
  test('anywhere in a string value, several times', () => {
    const c = parseConfig(base('host: db-${STAGE}.${DOMAIN}\nuser: gw_${STAGE}'), FILE, { STAGE: 'prod', DOMAIN: 'internal' }, memFiles());
    assert.equal(c.targets[0]!.upstream.host, 'db-prod.internal');
    assert.equal(c.targets[0]!.upstream.user, 'gw_prod');
  });

  test('$${NAME} is a literal ${NAME}', () => {
    const c = parseConfig(base('host: h\nuser: u\npassword: "pa$${NOT_A_VAR}ss$"'), FILE, {}, memFiles());
    assert.equal(c.targets[0]!.upstream.password, 'pa${NOT_A_VAR}ss$');
  });

  test('an expanded value may stand for a number or a boolean', () => {
    const text = base('host: h\nuser: u\nport: ${PORT}', 'audit:\n  fsync: ${FSYNC}\n  captureRows: ${ROWS}\n');
    const c = parseConfig(text, FILE, { PORT: '3310', FSYNC: 'true', ROWS: '0' }, memFiles());
    assert.equal(c.targets[0]!.upstream.port, 3310);
    assert.equal(c.audit.fsync, true);
    assert.equal(c.audit.captureRows, 0);
    assert.deepEqual(problemsOfText(text, { PORT: 'x', FSYNC: 'yes', ROWS: '1' }), [
      'targets[0].upstream.port: "x" must be a whole number from 1 to 65535',
      'audit.fsync: "yes" must be true or false',
    ]);
  });

  test('a missing variable is a config error naming the key and the variable', () => {
    assert.deepEqual(problemsOfText(base('host: ${DB_HOST}\nuser: u')), ['targets[0].upstream.host: environment variable DB_HOST is not set']);
  });

  test('an empty variable is substituted, and then judged like any empty value', () => {
    assert.deepEqual(problemsOfText(base('host: ${DB_HOST}\nuser: u'), { DB_HOST: '' }), ['targets[0].upstream.host: is empty']);
  });

  test('a malformed reference is an error, with the escape as the way out', () => {
    assert.deepEqual(problemsOfText(base('host: "${DB HOST}"\nuser: "${USER"')), [
      'targets[0].upstream.host: "${DB HOST}" is not a valid variable reference (names are letters, digits and _; write $${ for a literal ${)',
      'targets[0].upstream.user: "${USER" has a "${" without a closing "}" (write $${ for a literal ${)',
    ]);
  });

  test('keys are not expanded', () => {
    assert.deepEqual(problemsOf((c) => { c['${X}'] = 1; }, { X: 'targets' }), ['${X}: unknown key (known keys here: targets, tls, identity, audit, api, approvals, policies, masking, log, dataDir)']);
  });

  test('inside a flow collection a ${...} value must be quoted; the error says so', () => {
    assert.deepEqual(problemsOfText(base('{host: h, user: u, password: ${PW}}'), { PW: 'x' }), [
      ':6:37: YAML: Unexpected flow-map-start at node end (inside [ ] or { }, put a value holding ${...} in quotes)',
    ]);
  });
});
