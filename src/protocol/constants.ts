/**
 * MySQL / MariaDB client-server protocol constants.
 * https://dev.mysql.com/doc/dev/mysql-server/latest/PAGE_PROTOCOL.html and https://mariadb.com/kb/en/clientserver-protocol/
 */

/** Capability flags (32 bits; combine with `>>> 0` to keep them unsigned). */
export const Cap = {
  LONG_PASSWORD: 0x1, // MariaDB: cleared by the server to say "I have extended capabilities" (CLIENT_MYSQL)
  FOUND_ROWS: 0x2,
  LONG_FLAG: 0x4,
  CONNECT_WITH_DB: 0x8,
  NO_SCHEMA: 0x10,
  COMPRESS: 0x20,
  ODBC: 0x40,
  LOCAL_FILES: 0x80,
  IGNORE_SPACE: 0x100,
  PROTOCOL_41: 0x200,
  INTERACTIVE: 0x400,
  SSL: 0x800,
  IGNORE_SIGPIPE: 0x1000,
  TRANSACTIONS: 0x2000,
  RESERVED: 0x4000,
  SECURE_CONNECTION: 0x8000,
  MULTI_STATEMENTS: 0x10000,
  MULTI_RESULTS: 0x20000,
  PS_MULTI_RESULTS: 0x40000,
  PLUGIN_AUTH: 0x80000,
  CONNECT_ATTRS: 0x100000,
  PLUGIN_AUTH_LENENC_CLIENT_DATA: 0x200000,
  CAN_HANDLE_EXPIRED_PASSWORDS: 0x400000,
  SESSION_TRACK: 0x800000,
  DEPRECATE_EOF: 0x1000000,
  OPTIONAL_RESULTSET_METADATA: 0x2000000,
  ZSTD_COMPRESSION: 0x4000000,
  QUERY_ATTRIBUTES: 0x8000000,
  MULTI_FACTOR_AUTH: 0x10000000,
  CAPABILITY_EXTENSION: 0x20000000,
  SSL_VERIFY_SERVER_CERT: 0x40000000,
  REMEMBER_OPTIONS: 0x80000000,
} as const;

/**
 * What the gateway can honestly offer a client: everything it parses or forwards correctly. Left out on purpose:
 * COMPRESS (we would have to decompress to inspect), QUERY_ATTRIBUTES (changes COM_QUERY/EXECUTE layouts; MySQL 8
 * only), OPTIONAL_RESULTSET_METADATA, ZSTD, MULTI_FACTOR_AUTH, and MariaDB's extended capabilities (bulk execute,
 * cached metadata, progress reports), which are always advertised as zero.
 */
export const GATEWAY_CAPABILITIES = (
  Cap.LONG_PASSWORD | Cap.FOUND_ROWS | Cap.LONG_FLAG | Cap.CONNECT_WITH_DB | Cap.NO_SCHEMA | Cap.ODBC |
  Cap.LOCAL_FILES | Cap.IGNORE_SPACE | Cap.PROTOCOL_41 | Cap.INTERACTIVE | Cap.IGNORE_SIGPIPE | Cap.TRANSACTIONS |
  Cap.RESERVED | Cap.SECURE_CONNECTION | Cap.MULTI_STATEMENTS | Cap.MULTI_RESULTS | Cap.PS_MULTI_RESULTS |
  Cap.PLUGIN_AUTH | Cap.CONNECT_ATTRS | Cap.PLUGIN_AUTH_LENENC_CLIENT_DATA | Cap.SESSION_TRACK | Cap.DEPRECATE_EOF
) >>> 0;

/**
 * MariaDB's extended capabilities, exchanged in the handshake's filler bytes when the server clears
 * CLIENT_LONG_PASSWORD ("CLIENT_MYSQL").
 */
export const MariaCap = {
  PROGRESS: 0x1,
  COM_MULTI: 0x2,
  STMT_BULK_OPERATIONS: 0x4,
  EXTENDED_TYPE_INFO: 0x8,
  CACHE_METADATA: 0x10,
} as const;

/**
 * The extended capabilities the gateway offers: bulk execution only (COM_STMT_BULK_EXECUTE, which the mariadb
 * connector uses for batches; the gateway decodes its rows of parameters). Progress reports, COM_MULTI, extended
 * type info and cached metadata change packet layouts the gateway would have to rewrite, so they are never offered.
 */
export const GATEWAY_MARIADB_CAPABILITIES = MariaCap.STMT_BULK_OPERATIONS;

/** Command bytes (first byte of a client command). */
export const Com = {
  SLEEP: 0x00,
  QUIT: 0x01,
  INIT_DB: 0x02,
  QUERY: 0x03,
  FIELD_LIST: 0x04,
  CREATE_DB: 0x05,
  DROP_DB: 0x06,
  REFRESH: 0x07,
  SHUTDOWN: 0x08,
  STATISTICS: 0x09,
  PROCESS_INFO: 0x0a,
  CONNECT: 0x0b,
  PROCESS_KILL: 0x0c,
  DEBUG: 0x0d,
  PING: 0x0e,
  TIME: 0x0f,
  DELAYED_INSERT: 0x10,
  CHANGE_USER: 0x11,
  BINLOG_DUMP: 0x12,
  TABLE_DUMP: 0x13,
  CONNECT_OUT: 0x14,
  REGISTER_SLAVE: 0x15,
  STMT_PREPARE: 0x16,
  STMT_EXECUTE: 0x17,
  STMT_SEND_LONG_DATA: 0x18,
  STMT_CLOSE: 0x19,
  STMT_RESET: 0x1a,
  SET_OPTION: 0x1b,
  STMT_FETCH: 0x1c,
  DAEMON: 0x1d,
  BINLOG_DUMP_GTID: 0x1e,
  RESET_CONNECTION: 0x1f,
  STMT_BULK_EXECUTE: 0xfa, // MariaDB
} as const;

/** Server status flags (OK and EOF packets). */
export const Status = {
  IN_TRANS: 0x1,
  AUTOCOMMIT: 0x2,
  MORE_RESULTS_EXISTS: 0x8,
  NO_GOOD_INDEX_USED: 0x10,
  NO_INDEX_USED: 0x20,
  CURSOR_EXISTS: 0x40,
  LAST_ROW_SENT: 0x80,
  DB_DROPPED: 0x100,
  NO_BACKSLASH_ESCAPES: 0x200,
  METADATA_CHANGED: 0x400,
  QUERY_WAS_SLOW: 0x800,
  PS_OUT_PARAMS: 0x1000,
  IN_TRANS_READONLY: 0x2000,
  SESSION_STATE_CHANGED: 0x4000,
} as const;

/** Column types (MYSQL_TYPE_*). */
export const Type = {
  DECIMAL: 0,
  TINY: 1,
  SHORT: 2,
  LONG: 3,
  FLOAT: 4,
  DOUBLE: 5,
  NULL: 6,
  TIMESTAMP: 7,
  LONGLONG: 8,
  INT24: 9,
  DATE: 10,
  TIME: 11,
  DATETIME: 12,
  YEAR: 13,
  NEWDATE: 14,
  VARCHAR: 15,
  BIT: 16,
  TIMESTAMP2: 17,
  DATETIME2: 18,
  TIME2: 19,
  JSON: 245,
  NEWDECIMAL: 246,
  ENUM: 247,
  SET: 248,
  TINY_BLOB: 249,
  MEDIUM_BLOB: 250,
  LONG_BLOB: 251,
  BLOB: 252,
  VAR_STRING: 253,
  STRING: 254,
  GEOMETRY: 255,
} as const;

export const TYPE_NAMES: Record<number, string> = Object.fromEntries(Object.entries(Type).map(([k, v]) => [v, k]));

/** Column definition flags. */
export const ColumnFlag = {
  NOT_NULL: 0x1,
  PRI_KEY: 0x2,
  UNIQUE_KEY: 0x4,
  MULTIPLE_KEY: 0x8,
  BLOB: 0x10,
  UNSIGNED: 0x20,
  ZEROFILL: 0x40,
  BINARY: 0x80,
} as const;

/** The `binary` character set id: bytes, not text. */
export const BINARY_CHARSET = 63;
/** utf8mb4_general_ci, what the gateway announces in its greeting. */
export const DEFAULT_CHARSET = 45;

/** Largest payload of one packet; a payload of exactly this size continues in the next packet. */
export const MAX_PACKET_PAYLOAD = 0xffffff;

/** COM_STMT_EXECUTE cursor flags. */
export const CursorType = {
  NO_CURSOR: 0,
  READ_ONLY: 1,
  FOR_UPDATE: 2,
  SCROLLABLE: 4,
} as const;

/** COM_SET_OPTION values. */
export const SetOption = {
  MULTI_STATEMENTS_ON: 0,
  MULTI_STATEMENTS_OFF: 1,
} as const;
