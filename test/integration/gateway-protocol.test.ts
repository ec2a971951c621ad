// The gateway is transparent: for every command of the protocol, a client gets byte for byte the response it gets
// from the server directly (when no masking applies). Both connections run the same commands in the same order, so
// even per-connection values (statement ids) line up.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Writer } from '../../src/protocol/buffer.ts';
import { Cap, Com, GATEWAY_CAPABILITIES, Type, CursorType } from '../../src/protocol/constants.ts';
import type { ResponseShape } from '../../src/protocol/results.ts';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { RawClient } from '../helpers/raw-client.ts';

const hex = (bufs: Buffer[]) => bufs.map((b) => b.toString('hex'));

const SETUP = [
  `CREATE TABLE types (
    id INT PRIMARY KEY AUTO_INCREMENT, ti TINYINT, si SMALLINT UNSIGNED, mi MEDIUMINT, bi BIGINT UNSIGNED,
    f FLOAT, d DOUBLE, dec1 DECIMAL(20,6), dt DATE, tm TIME(3), dtm DATETIME(6), ts TIMESTAMP NULL, yr YEAR,
    ch CHAR(10), vc VARCHAR(100), tx TEXT, bl BLOB, vb VARBINARY(20), bt BIT(10), en ENUM('a','b'), st SET('x','y'),
    js JSON)`,
  `INSERT INTO types VALUES
    (NULL, -128, 65535, -8388608, 18446744073709551615, 3.14, -2.5e300, -12345678901234.123456, '2024-02-29',
     '-838:59:59.999', '2024-01-02 03:04:05.123456', '2038-01-19 03:14:07', 2155, 'abc', 'héllo wörld ✓', REPEAT('t', 300),
     X'00FF10', X'DEADBEEF', b'1010101010', 'b', 'x,y', '{"k": [1, 2]}'),
    (NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
    (NULL, 0, 0, 0, 0, 0, 0, 0, '1000-01-01', '00:00:00', '1000-01-01 00:00:00', NULL, 1901, '', '', '', '', '', b'0', 'a', '', '[]')`,
  `CREATE PROCEDURE two_results() BEGIN SELECT 1 AS first; SELECT id, vc FROM types ORDER BY id; END`,
];

function stmt(code: number, id: number, ...rest: Buffer[]): Buffer {
  return Buffer.concat([Buffer.from([code]), new Writer().u32(id).finish(), ...rest]);
}

for (const deprecateEof of [true, false]) {
  describe(`byte-for-byte transparency (${deprecateEof ? 'CLIENT_DEPRECATE_EOF' : 'EOF packets'})`, () => {
    let gw: TestGateway;
    let direct: RawClient;
    let via: RawClient;
    const caps = deprecateEof ? GATEWAY_CAPABILITIES : (GATEWAY_CAPABILITIES & ~Cap.DEPRECATE_EOF) >>> 0;

    /** Runs the same command on both connections and asserts identical responses. */
    async function same(payload: Buffer, shape: ResponseShape, what: string): Promise<Buffer[]> {
      const a = await direct.command(payload, shape);
      const b = await via.command(payload, shape);
      assert.deepEqual(hex(b), hex(a), what);
      return a;
    }
    const sameQuery = (sql: string) => same(Buffer.concat([Buffer.from([Com.QUERY]), Buffer.from(sql)]), 'query', sql);

    /**
     * MariaDB numbers prepared statements with a counter shared by every connection of the server, so the two
     * connections may get different ids when other clients prepare meanwhile: compare the responses without the id,
     * and address each connection's own statement afterwards.
     */
    async function samePrepare(sql: string): Promise<{ direct: number; via: number }> {
      const payload = Buffer.concat([Buffer.from([Com.STMT_PREPARE]), Buffer.from(sql)]);
      const a = await direct.command(payload, 'prepare');
      const b = await via.command(payload, 'prepare');
      const withoutId = (r: Buffer[]) => hex([Buffer.concat([r[0]!.subarray(0, 5), Buffer.alloc(4), r[0]!.subarray(9)]), ...r.slice(1)]);
      assert.deepEqual(withoutId(b), withoutId(a), `prepare ${sql}`);
      return { direct: a[0]!.readUInt32LE(5), via: b[0]!.readUInt32LE(5) };
    }

    /** Runs `make(id)` on each connection with its own statement id and asserts identical responses. */
    async function sameStmt(ids: { direct: number; via: number }, make: (id: number) => Buffer, shape: ResponseShape, what: string): Promise<void> {
      const a = await direct.command(make(ids.direct), shape);
      const b = await via.command(make(ids.via), shape);
      assert.deepEqual(hex(b), hex(a), what);
    }

    before(async () => {
      gw = await startTestGateway();
      const u = gw.upstream;
      const setup = await RawClient.connect({ host: u.host, port: u.port, user: u.user, password: u.password, database: u.database });
      for (const s of SETUP) {
        const r = await setup.query(s);
        assert.notEqual(r[0]![4], 0xff, `setup failed: ${r[0]!.subarray(7).toString()}`);
      }
      setup.close();
      direct = await RawClient.connect({ host: u.host, port: u.port, user: u.user, password: u.password, database: u.database, capabilities: caps });
      via = await RawClient.connect({ host: '127.0.0.1', port: gw.port(), user: 'ci', password: 'ci-secret-0123456789', database: u.database, capabilities: caps });
    });

    after(async () => {
      direct?.close();
      via?.close();
      await gw?.stop();
    });

    test('the login ends with the server\'s own OK packet', () => {
      assert.equal(via.loginOk.toString('hex'), direct.loginOk.toString('hex'));
      assert.equal(via.up.capabilities & Cap.DEPRECATE_EOF, caps & Cap.DEPRECATE_EOF);
    });

    test('text result sets with every column type, NULLs and unicode', async () => {
      await sameQuery('SELECT * FROM types ORDER BY id');
      await sameQuery("SELECT 1 AS a, NULL AS b, 'x' AS c, 1.5 AS d, NOW() - NOW() AS e");
    });

    test('OK packets: affected rows, insert id, info, warnings', async () => {
      // Writes go to a table of each connection's own, so insert ids match.
      await sameQuery('CREATE TEMPORARY TABLE w (id INT PRIMARY KEY AUTO_INCREMENT, v VARCHAR(10))');
      await sameQuery("INSERT INTO w (v) VALUES ('new'), ('newer')");
      await sameQuery("UPDATE w SET v = CONCAT(v, '!') WHERE id > 0");
      await sameQuery("INSERT INTO w (v) VALUES ('waytoolongvalue')");
      await sameQuery('SHOW WARNINGS');
      await sameQuery("SELECT CAST('abc' AS INT) AS warns");
      await sameQuery('DELETE FROM w WHERE v LIKE \'new%\'');
    });

    test('errors, and multi-statements with several results and an error among them', async () => {
      await sameQuery('SELECT * FROM no_such_table');
      await sameQuery('SELECT 1 AS one; SELECT id FROM types ORDER BY id LIMIT 2; DO 1; SELECT * FROM nope; SELECT 2');
      await sameQuery('CALL two_results()');
    });

    test('prepared statements: prepare, execute (binary rows of every type), reset, close', async () => {
      const ids = await samePrepare('SELECT * FROM types WHERE id >= ? ORDER BY id');
      const exec = (id: number) => stmt(Com.STMT_EXECUTE, id, Buffer.from([CursorType.NO_CURSOR]), new Writer().u32(1).u8(0).u8(1).u8(Type.LONGLONG).u8(0).u64(1n).finish());
      await sameStmt(ids, exec, 'execute', 'execute with types');
      // new-params-bound = 0: the server (and the gateway) reuse the types bound before.
      const again = (id: number) => stmt(Com.STMT_EXECUTE, id, Buffer.from([0]), new Writer().u32(1).u8(0).u8(0).u64(2n).finish());
      await sameStmt(ids, again, 'execute', 'execute reusing types');
      await sameStmt(ids, (id) => stmt(Com.STMT_RESET, id), 'simple', 'reset');
      direct.send(stmt(Com.STMT_CLOSE, ids.direct));
      via.send(stmt(Com.STMT_CLOSE, ids.via));
      // The error names the statement id; both are for a closed statement.
      const a = await direct.command(again(ids.direct), 'execute');
      const b = await via.command(again(ids.via), 'execute');
      assert.equal(a[0]![4], 0xff);
      assert.equal(b[0]![4], 0xff);
      assert.equal(b[0]!.readUInt16LE(5), a[0]!.readUInt16LE(5), 'same error code');
    });

    test('cursors: execute opens one, fetch reads it in pieces', async () => {
      const ids = await samePrepare('SELECT id, vc, dtm FROM types ORDER BY id');
      await sameStmt(ids, (id) => stmt(Com.STMT_EXECUTE, id, Buffer.from([CursorType.READ_ONLY]), new Writer().u32(1).finish()), 'execute', 'execute with cursor');
      for (let i = 0; i < 3; i++) {
        await sameStmt(ids, (id) => stmt(Com.STMT_FETCH, id, new Writer().u32(1).finish()), 'fetch', `fetch ${i}`);
      }
      await sameStmt(ids, (id) => stmt(Com.STMT_FETCH, id, new Writer().u32(10).finish()), 'fetch', 'fetch past the end');
    });

    test('COM_STMT_SEND_LONG_DATA carries parameters separately', async () => {
      const ids = await samePrepare('SELECT LENGTH(?) AS a, MD5(?) AS b');
      for (const [c, id] of [[direct, ids.direct], [via, ids.via]] as const) {
        c.send(Buffer.concat([stmt(Com.STMT_SEND_LONG_DATA, id), Buffer.from([0, 0]), Buffer.alloc(100_000, 0x61)]));
        c.send(Buffer.concat([stmt(Com.STMT_SEND_LONG_DATA, id), Buffer.from([0, 0]), Buffer.alloc(50_000, 0x62)]));
      }
      const exec = (id: number) => stmt(Com.STMT_EXECUTE, id, Buffer.from([0]), new Writer().u32(1).u8(0).u8(1).u8(Type.BLOB).u8(0).u8(Type.VAR_STRING).u8(0).lenencStr('second').finish());
      await sameStmt(ids, exec, 'execute', 'execute with long data');
    });

    test('INIT_DB, PING, FIELD_LIST, SET_OPTION, RESET_CONNECTION', async () => {
      await same(Buffer.concat([Buffer.from([Com.INIT_DB]), Buffer.from(gw.upstream.database)]), 'simple', 'init db');
      await same(Buffer.concat([Buffer.from([Com.INIT_DB]), Buffer.from('no_such_db_x')]), 'simple', 'init db error');
      await same(Buffer.from([Com.PING]), 'simple', 'ping');
      await same(Buffer.concat([Buffer.from([Com.FIELD_LIST]), Buffer.from('types\0')]), 'field_list', 'field list');
      await same(Buffer.from([Com.SET_OPTION, 1, 0]), 'simple', 'multi statements off');
      await sameQuery('SELECT 1; SELECT 2');
      await same(Buffer.from([Com.SET_OPTION, 0, 0]), 'simple', 'multi statements on');
      await same(Buffer.from([Com.RESET_CONNECTION]), 'simple', 'reset connection');
      await sameQuery('SELECT DATABASE()');
    });

    test('COM_STATISTICS answers with the server\'s statistics line', async () => {
      const a = await direct.command(Buffer.from([Com.STATISTICS]), 'statistics');
      const b = await via.command(Buffer.from([Com.STATISTICS]), 'statistics');
      assert.match(a[0]!.subarray(4).toString(), /^Uptime: \d+/);
      assert.match(b[0]!.subarray(4).toString(), /^Uptime: \d+/);
    });

    test('packets over 16 MiB in both directions', async () => {
      const big = 'x'.repeat(17 * 1024 * 1024);
      await sameQuery(`SELECT LENGTH('${big}') AS n, MD5('${big}') AS h`);
      await sameQuery('SELECT REPEAT(\'y\', 17000000) AS big, 1 AS after_it');
    });
  });
}
