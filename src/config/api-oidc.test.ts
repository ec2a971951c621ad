// api.oidc: console sign-in for admins with an OIDC issuer (authorization code with PKCE).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { stringify } from 'yaml';
import { parseConfig } from './load.ts';
import { baseConfig, FILE, memFiles, problemsOf } from '../../test/helpers/config.ts';

const OIDC = { issuer: 'https://idp.example.com/realms/ops', clientId: 'agentgate-console', adminGroups: ['dba'] };

describe('api.oidc', () => {
  test('the defaults: groups claim, name claim, scopes; absent means no OIDC sign-in', () => {
    const c = baseConfig();
    c.api = { listen: '127.0.0.1:8081', oidc: OIDC };
    const config = parseConfig(stringify(c), FILE, {}, memFiles());
    assert.deepEqual(config.api.oidc, { ...OIDC, groupsClaim: 'groups', nameClaim: 'sub', scopes: ['openid', 'profile', 'email'] });
    assert.equal(parseConfig(stringify(baseConfig()), FILE, {}, memFiles()).api.oidc, undefined);
  });

  test('every key is checked', () => {
    assert.deepEqual(problemsOf((c) => { c.api = { oidc: {} }; }), [
      'api.oidc.issuer: is missing (the https URL that ID tokens name in "iss")',
      "api.oidc.clientId: is missing (the console's client id at the issuer (a public client using PKCE))",
      'api.oidc.adminGroups: is missing (the groups whose members are admins, e.g. [dba])',
    ]);
    assert.deepEqual(problemsOf((c) => { c.api = { oidc: { ...OIDC, issuer: 'http://idp.example.com', adminGroups: [] } }; }), [
      'api.oidc.issuer: "http://idp.example.com" must be an https URL (http is allowed only for localhost and 127.0.0.1)',
      'api.oidc.adminGroups: must not be empty',
    ]);
    assert.deepEqual(problemsOf((c) => { c.api = { oidc: { ...OIDC, scopes: ['profile', 'bad scope'], clientID: 'x' } }; }), [
      'api.oidc.clientID: unknown key (did you mean "clientId"?)',
      'api.oidc.scopes[1]: "bad scope" is not a scope (printable characters, no spaces, quotes or backslashes)',
      'api.oidc.scopes: must include "openid" (the sign-in needs an ID token)',
    ]);
    assert.deepEqual(problemsOf((c) => { c.api = { oidc: { ...OIDC, jwksUri: 'ftp://idp.example.com/keys' } }; }), [
      'api.oidc.jwksUri: "ftp://idp.example.com/keys" must be an https URL',
    ]);
  });
});
