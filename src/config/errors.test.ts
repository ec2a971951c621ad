// Every kind of problem, with its exact message. Each case breaks the minimal valid config of testing.ts.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { problemsOf, problemsOfText, type Raw } from '../../test/helpers/config.ts';

function expect(edit: (c: Raw) => void, problems: string[]): void {
  assert.deepEqual(problemsOf(edit), problems);
}

test('the minimal base config is valid', () => {
  assert.deepEqual(problemsOf(() => {}), []);
});

describe('structure', () => {
  test('an unknown key is an error, with the closest known key', () => {
    expect((c) => { c.polices = []; }, ['polices: unknown key (did you mean "policies"?)']);
    expect((c) => { c.targets[0].upstream.prot = 3306; }, ['targets[0].upstream.prot: unknown key (did you mean "port"?)']);
    expect((c) => { c.identity.serviceAccounts[0].Secret = 'x'; c.identity.serviceAccounts[0].secret = undefined; }, [
      'identity.serviceAccounts[0].Secret: unknown key (did you mean "secret"?)',
      'identity.serviceAccounts[0].secret: is missing (its password, e.g. ${CI_SECRET})',
    ]);
  });

  test('an unknown key with nothing close lists the known keys', () => {
    expect((c) => { c.api = { listen: '127.0.0.1:8081', colour: 'blue' }; }, ['api.colour: unknown key (known keys here: listen, oidc)']);
  });

  test('missing sections', () => {
    assert.deepEqual(problemsOfText(''), ['the file is empty (at least targets, identity and policies are needed)']);
    expect((c) => { delete c.targets; delete c.policies; }, [
      'targets: is missing (at least one target is needed)',
      'policies: is missing (a login is refused unless a policy matches it)',
    ]);
    expect((c) => { delete c.identity; }, ['identity: is missing (OIDC issuers and/or service accounts: who may log in)']);
    expect((c) => { c.identity = { admins: [] }; }, ['identity: has no OIDC issuer and no service account: no agent could log in']);
  });

  test('wrong types', () => {
    expect((c) => { c.targets = { name: 'app' }; }, ['targets: must be a list, not a mapping (key: value)']);
    expect((c) => { c.targets[0].upstream = 'db:3306'; }, ['targets[0].upstream: must be a mapping (key: value), not a string']);
    expect((c) => { c.policies[0].groups = 'ci'; }, ['policies[0].groups: must be a list, not a string (write [ci])']);
  });

  test('every problem is reported, one per line', () => {
    expect((c) => {
      c.targets[0].listen = '127.0.0.1:99999';
      c.targets[0].upstream.tls = 'verfy';
      c.audit = { captureRows: -1 };
    }, [
      'targets[0].listen: "127.0.0.1:99999" is not a host:port (port must be 1-65535)',
      'targets[0].upstream.tls: "verfy" is not one of disabled, preferred, required, verify (did you mean "verify"?)',
      'audit.captureRows: -1 must be a whole number ≥ 0',
    ]);
  });

  test('a YAML syntax error names the line and column', () => {
    assert.deepEqual(problemsOfText('targets:\n  - name: app\n    listen: [1\n'), [
      ':4:1: YAML: Flow sequence in block collection must be sufficiently indented and end with a ]',
    ]);
    assert.deepEqual(problemsOfText('policies:\n  - targets: [*]\n'), [
      ':2:15: YAML: Alias cannot be an empty string (a * starts a YAML alias: quote it, e.g. targets: ["*"])',
    ]);
  });
});

describe('targets', () => {
  test('names', () => {
    expect((c) => { c.targets[0].name = 'App_1'; c.policies[0].targets = ['*']; }, [
      'targets[0].name: "App_1" is not a valid target name (use lowercase letters, digits and -)',
    ]);
    expect((c) => { c.targets.push({ ...c.targets[0], listen: '127.0.0.1:3308' }); }, ['targets[1].name: "app" is already used by targets[0]']);
  });

  test('listen addresses', () => {
    expect((c) => { c.targets[0].listen = '127.0.0.1'; }, ['targets[0].listen: "127.0.0.1" is not a host:port (the port is missing; e.g. 127.0.0.1:3307)']);
    expect((c) => { c.targets[0].listen = 3307; }, ['targets[0].listen: "3307" is not a host:port (the port is missing; e.g. 127.0.0.1:3307)']);
    expect((c) => { c.targets[0].listen = ':3307'; }, ['targets[0].listen: ":3307" is not a host:port (the host is missing; use 0.0.0.0 for every interface)']);
    expect((c) => { c.targets[0].listen = '::1:3307'; }, ['targets[0].listen: "::1:3307" is not a host:port (write an IPv6 address in brackets, e.g. [::1]:3307)']);
    expect((c) => { c.targets[0].listen = '[::1]:3307'; }, []);
  });

  test('listen addresses are unique across targets and the API, a wildcard host clashing with any', () => {
    expect((c) => {
      c.targets.push({ name: 'b', listen: '127.0.0.1:3307', upstream: c.targets[0].upstream });
      c.targets.push({ name: 'c', listen: '0.0.0.0:3309', upstream: c.targets[0].upstream });
      c.api = { listen: '127.0.0.1:3309' };
    }, [
      'targets[1].listen: 127.0.0.1:3307 is already used by targets[0].listen (127.0.0.1:3307)',
      'api.listen: 127.0.0.1:3309 is already used by targets[2].listen (0.0.0.0:3309)',
    ]);
  });

  test('upstream', () => {
    expect((c) => { c.targets[0].upstream = { port: 70000 }; }, [
      'targets[0].upstream.host: is missing',
      'targets[0].upstream.port: 70000 must be a whole number from 1 to 65535',
      'targets[0].upstream.user: is missing',
    ]);
    expect((c) => { c.targets[0].upstream.port = '3306'; }, ['targets[0].upstream.port: "3306" must be a whole number from 1 to 65535']);
    expect((c) => { c.targets[0].upstream.password = 123456; }, [
      'targets[0].upstream.password: the value must be a string, not a number (put it in quotes)',
    ]);
    expect((c) => { c.targets[0].upstream.connectTimeout = 10; }, ['targets[0].upstream.connectTimeout: 10 needs a unit (e.g. "10s"; units: ms, s, m, h, d)']);
  });

  test('upstream TLS: verify needs a readable CA certificate', () => {
    expect((c) => { c.targets[0].upstream.tls = 'verify'; }, [
      'targets[0].upstream.ca: is missing (tls: verify checks the server certificate against this CA file)',
    ]);
    expect((c) => { c.targets[0].upstream.tls = 'verify'; c.targets[0].upstream.ca = 'certs/missing.pem'; }, [
      'targets[0].upstream.ca: cannot read /cfg/certs/missing.pem: no such file',
    ]);
    expect((c) => { c.targets[0].upstream.tls = 'verify'; c.targets[0].upstream.ca = './certs/not-a-cert.pem'; }, [
      'targets[0].upstream.ca: /cfg/certs/not-a-cert.pem is not a PEM certificate',
    ]);
    expect((c) => { c.targets[0].upstream.tls = 'verify'; c.targets[0].upstream.ca = './certs/ca.pem'; }, []);
  });
});

describe('client TLS', () => {
  test('cert and key must be readable and belong together', () => {
    expect((c) => { c.tls = { cert: './certs/gateway.pem', key: './certs/gateway-key.pem', require: true }; }, []);
    expect((c) => { c.tls = { cert: './certs/gateway.pem' }; }, ['tls.key: is missing (its private key, PEM)']);
    expect((c) => { c.tls = { cert: './certs/nope.pem', key: './certs/gateway-key.pem' }; }, ['tls.cert: cannot read /cfg/certs/nope.pem: no such file']);
    expect((c) => { c.tls = { cert: './certs/gateway.pem', key: './certs/ca.pem' }; }, [
      'tls.key: /cfg/certs/ca.pem is not a PEM private key (or it is encrypted with a passphrase)',
    ]);
    expect((c) => { c.tls = { cert: './certs/ca.pem', key: './certs/gateway-key.pem' }; }, [
      'tls.key: /cfg/certs/gateway-key.pem is not the private key of the certificate in /cfg/certs/ca.pem',
    ]);
    expect((c) => { c.tls = { cert: './certs/gateway.pem', key: './certs/gateway-key.pem', require: 'yes' }; }, ['tls.require: "yes" must be true or false']);
  });
});

describe('identity', () => {
  const oidc = (o: Raw) => (c: Raw) => { c.identity.oidc = [{ issuer: 'https://idp.example.com', audience: 'agentgate', ...o }]; };

  test('issuer: https, or http on a loopback host', () => {
    expect(oidc({ issuer: 'http://idp.example.com' }), [
      'identity.oidc[0].issuer: "http://idp.example.com" must be an https URL (http is allowed only for localhost and 127.0.0.1)',
    ]);
    expect(oidc({ issuer: 'http://127.0.0.1:9999' }), []);
    expect(oidc({ issuer: 'http://localhost:9999/realms/x' }), []);
    expect(oidc({ issuer: 'idp.example.com' }), ['identity.oidc[0].issuer: "idp.example.com" is not a URL']);
    expect(oidc({ issuer: 'https://idp.example.com/?x=1' }), ['identity.oidc[0].issuer: "https://idp.example.com/?x=1" must not have a query or a fragment']);
  });

  test('audience: a string or a list', () => {
    assert.deepEqual(problemsOf(oidc({ audience: ['a', 'b'] })), []);
    expect(oidc({ audience: [] }), ['identity.oidc[0].audience: must not be empty']);
    expect(oidc({ audience: undefined }), ['identity.oidc[0].audience: is missing (the "aud" the tokens must carry)']);
  });

  test('algorithms: never none, never a shared-secret one', () => {
    expect(oidc({ algorithms: ['none', 'HS256', 'ES265', 'ES256'] }), [
      'identity.oidc[0].algorithms[0]: "none" is never accepted (an unsigned token proves nothing)',
      'identity.oidc[0].algorithms[1]: "HS256" is not accepted (a shared-secret algorithm cannot be checked with the issuer\'s public keys)',
      'identity.oidc[0].algorithms[2]: "ES265" is not one of RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA (did you mean "ES256"?)',
    ]);
  });

  test('issuers are unique', () => {
    expect((c) => {
      c.identity.oidc = [{ issuer: 'https://a.example', audience: 'x' }, { issuer: 'https://a.example', audience: 'y' }];
    }, ['identity.oidc[1].issuer: "https://a.example" is already used by identity.oidc[0]']);
  });

  test('service accounts: valid, unique MySQL user names', () => {
    expect((c) => { c.identity.serviceAccounts[0].name = 'ci bot'; }, [
      'identity.serviceAccounts[0].name: "ci bot" is not a valid MySQL user name (1-80 characters, no spaces or control characters)',
    ]);
    expect((c) => { c.identity.serviceAccounts[0].name = 'x'.repeat(81); }, [
      `identity.serviceAccounts[0].name: "${'x'.repeat(76)}... is not a valid MySQL user name (1-80 characters, no spaces or control characters)`,
    ]);
    expect((c) => { c.identity.serviceAccounts[0].name = 'x'.repeat(80); }, []);
    expect((c) => { c.identity.serviceAccounts.push({ name: 'ci', secret: 'other-secret' }); }, [
      'identity.serviceAccounts[1].name: "ci" is already used by identity.serviceAccounts[0]',
    ]);
  });

  test('admins: tokens of at least 16 characters, each their own', () => {
    expect((c) => { c.identity.admins = [{ name: 'alice', token: 'short', groups: ['dba'] }]; }, [
      'identity.admins[0].token: the value is 5 characters long; an admin token needs at least 16',
    ]);
    expect((c) => {
      c.identity.admins = [{ name: 'alice', token: 'a-long-enough-token' }, { name: 'bob', token: 'a-long-enough-token' }];
    }, ['identity.admins[1].token: the value is the same as identity.admins[0].token (each admin needs their own)']);
  });
});

describe('durations', () => {
  const timeout = (v: unknown) => (c: Raw) => { c.approvals = { timeout: v }; };
  test('need a unit', () => {
    expect(timeout(300), ['approvals.timeout: 300 needs a unit (e.g. "300s"; units: ms, s, m, h, d)']);
    expect(timeout('5 minutes'), ['approvals.timeout: "5 minutes" is not a duration (e.g. 250ms, 300s, 5m, 1h, 90d)']);
    expect(timeout('0s'), ['approvals.timeout: "0s" must be longer than 0']);
  });
});

describe('policies', () => {
  const rule = (r: Raw) => (c: Raw) => { c.policies[0].rules = [r]; };

  test('groups and targets are non-empty, targets exist or are *', () => {
    expect((c) => { c.policies[0].groups = []; c.policies[0].targets = []; }, [
      'policies[0].groups: must not be empty',
      'policies[0].targets: must not be empty',
    ]);
    expect((c) => { c.policies[0].targets = ['ap']; }, ['policies[0].targets[0]: no target is named "ap" (did you mean "app"?)']);
    expect((c) => { c.policies[0].targets = ['*']; }, []);
    expect((c) => { c.policies.push({ name: 'ci', groups: ['x'], targets: ['app'] }); }, ['policies[1].name: "ci" is already used by policies[0]']);
  });

  test('rules: kinds, tables, action', () => {
    expect(rule({ kinds: ['drop', 'trunc'], action: 'deny' }), [
      'policies[0].rules[0].kinds[1]: "trunc" is not one of select, insert, update, delete, replace, create, alter, drop, '
        + 'truncate, rename, grant, revoke, set, use, show, describe, explain, call, do, load_data, into_outfile, lock, '
        + 'transaction, prepare, kill, flush, other (did you mean "truncate"?)',
    ]);
    expect(rule({ tables: ['payments', 'app.pay*', '*.*'], action: 'deny' }), [
      'policies[0].rules[0].tables[0]: "payments" must be db.table, each part a name or * (use "*.payments" for any database)',
      'policies[0].rules[0].tables[1]: "app.pay*" must be db.table, each part a name or * (* stands for a whole part only)',
    ]);
    expect(rule({ kinds: ['drop'] }), ['policies[0].rules[0].action: is missing (allow, deny or approve)']);
    expect(rule({ kinds: ['drop'], action: 'block' }), ['policies[0].rules[0].action: "block" is not one of allow, deny, approve']);
    expect(rule({ kinds: ['drop'], action: 'deny', minApprovals: 2 }), [
      'policies[0].rules[0].minApprovals: only applies to action: approve (this rule\'s action is deny)',
    ]);
  });

  test('approve needs approvers', () => {
    expect(rule({ kinds: ['drop'], action: 'approve' }), [
      'policies[0].rules[0].action: "approve" needs approvals.approvers (the groups allowed to approve); none are set',
    ]);
    expect((c) => { rule({ kinds: ['drop'], action: 'approve' })(c); c.approvals = { approvers: ['dba'] }; }, []);
  });

  test('masking entries need columns or detect, and a style', () => {
    const mask = (m: Raw) => (c: Raw) => { c.policies[0].masking = [m]; };
    expect(mask({ style: 'redact' }), ['policies[0].masking[0]: needs columns (db.table.column) or detect (content detectors)']);
    expect(mask({ columns: ['app.users.email'] }), ['policies[0].masking[0].style: is missing (redact, partial, hash or null)']);
    expect(mask({ columns: ['users.email'], style: 'redact' }), [
      'policies[0].masking[0].columns[0]: "users.email" must be db.table.column, each part a name or * (use "*.users.email" for any database)',
    ]);
    expect(mask({ detect: ['credit_card', 'passport'], style: 'hash' }), [
      'policies[0].masking[0].detect[1]: "passport" is not one of credit_card, email, ssn, iban, phone, api_key, jwt',
    ]);
    expect(mask({ columns: ['*.*.ssn'], detect: ['ssn'], style: 'null' }), ['policies[0].masking[0]: has both columns and detect: write them as two entries']);
  });
});

describe('audit', () => {
  test('store: sqlite:PATH or a PostgreSQL URL', () => {
    expect((c) => { c.audit = { store: 'sqllite:./a.db' }; }, [
      'audit.store: unknown store "sqllite:"; use sqlite:PATH or postgres://user:password@host:port/database (did you mean "sqlite:"?)',
    ]);
    expect((c) => { c.audit = { store: 'sqlite:' }; }, ['audit.store: sqlite: needs a file path, e.g. sqlite:./.agentgate/audit.db']);
    expect((c) => { c.audit = { store: 'sqlite::memory:' }; }, ['audit.store: an in-memory database cannot hold the audit trail; give a file, e.g. sqlite:./.agentgate/audit.db']);
    expect((c) => { c.audit = { store: 'postgres://u:pw@db.example:5432/audit' }; }, []);
    expect((c) => { c.audit = { store: 'postgresql://' }; }, [
      'audit.store: the value is not a valid PostgreSQL URL (postgres://user:password@host:port/database)',
    ]);
  });
});

describe('lists', () => {
  test('only audience takes a single string; other lists say how to write one', () => {
    expect((c) => { c.policies[0].targets = 'app'; }, ['policies[0].targets: must be a list, not a string (write [app])']);
    expect((c) => { c.policies[0].rules = [{ kinds: 'drop', action: 'deny' }]; }, ['policies[0].rules[0].kinds: must be a list, not a string (write [drop])']);
    expect((c) => { c.policies[0].rules = [{ kinds: [], action: 'deny' }]; }, ['policies[0].rules[0].kinds: must not be empty']);
    expect((c) => { c.policies[0].groups = ['ci', null]; }, ['policies[0].groups[1]: is empty']);
  });
});

describe('key files', () => {
  test('identity.rsaKey: an RSA private key of at least 2048 bits', () => {
    expect((c) => { c.identity.rsaKey = './certs/gateway-key.pem'; }, []);
    expect((c) => { c.identity.rsaKey = './keys/rsa-1024.pem'; }, ['identity.rsaKey: /cfg/keys/rsa-1024.pem has fewer than 2048 bits']);
    expect((c) => { c.identity.rsaKey = './keys/ed25519.pem'; }, ['identity.rsaKey: /cfg/keys/ed25519.pem is not an RSA key']);
  });

  test('audit.signingKey: an Ed25519 private key', () => {
    expect((c) => { c.audit = { signingKey: 'keys/ed25519.pem' }; }, []);
    expect((c) => { c.audit = { signingKey: './certs/gateway-key.pem' }; }, ['audit.signingKey: /cfg/certs/gateway-key.pem is not an Ed25519 private key']);
    expect((c) => { c.audit = { signingKey: './keys/missing.pem' }; }, ['audit.signingKey: cannot read /cfg/keys/missing.pem: no such file']);
  });
});
