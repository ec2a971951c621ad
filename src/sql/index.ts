// The public surface of src/sql: pure functions, no I/O.
export { classify } from './classify.ts';
export { ClassifierCache, shapeRepresentative } from './cache.ts';
export type { ClassifierCacheOptions } from './cache.ts';
export { tokenize, stringValue } from './lexer.ts';
export type { Token, TokenType, LexResult } from './lexer.ts';
export { splitStatements } from './split.ts';
export type { SplitStatement } from './split.ts';
export { fingerprint } from './fingerprint-text.ts';
export * from './types.ts';
