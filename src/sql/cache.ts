// ClassifierCache: classify() behind a cache, for the gateway, which sees the same statements over and over.
import { stringValue, tokenize } from './lexer.ts';
import type { LexResult, Token } from './lexer.ts';
import { classify, classifyTokenized } from './classify.ts';
import { splitTokens, tokenRangeText } from './split.ts';
import type { Classification, ServerFlavor, StatementInfo, StatementKind } from './types.ts';

export interface ClassifierCacheOptions {
  /** Most entries kept per flavor, in each of the two caches (default 10,000). */
  maxEntries?: number;
  /** Texts longer than this are classified but not cached (default 16 KiB). */
  maxTextLength?: number;
}

/**
 * A cached classify. Results are deeply frozen and shared between callers, and always equal what classify()
 * returns for the same text and flavor. Two caches:
 *
 * - by exact text;
 * - by *shape*, for texts that differ only in their literals: an application sends `… WHERE id = 17`, then
 *   `… WHERE id = 18`. The shape is the text with every string, number, hex and bit literal replaced by a marker
 *   of its kind (everything else, spacing and comments included, kept as written). A classification is kept by
 *   shape only when nothing in it but the statement's own text can come from a literal: one statement, parsed, a
 *   plain query or data change (select, insert, update, delete, replace; not INTO, LOAD DATA, PREPARE, EXPLAIN or
 *   a compound statement), `literalDependent` false (the classifier sets it whenever a literal's value decided
 *   something: `WHERE 1=1`, `LIMIT n`, `ORDER BY 2`, …), and no output column name that contains a literal of the
 *   text (`SELECT 'x' AS a`, `SELECT c AS 'x'`). A later text of the same shape gets that classification with
 *   its own statement text. The property tests in classify.test.ts hold this to "equal to classify()".
 *
 * A text classified afresh is kept by text at once. A text given its classification by shape is kept by text only
 * when it comes again while still remembered as seen (among the last 1,024–2,048 such texts; fewer when the cache's
 * bound is under 2,048): most of them never come again (an id in each), and keeping each one filled the text cache
 * with entries that lived long enough to be copied by every collection of V8's young generation (in a one-connection
 * benchmark, scavenges took about 30% longer on average and up to 15 ms instead of 4 ms).
 *
 * Each cache is bounded by two generations rather than by exact recency: new entries go into the young generation;
 * when it holds half the bound it becomes the old one and the previous old one is dropped; a hit in the old
 * generation copies the entry into the young one, so what is used stays. Every operation costs the same whatever the
 * cache holds. (An exact LRU over one Map, deleting its oldest key on every insert once full, costs far more: V8
 * walks over the deleted slots at the front of the table on each `keys().next()` until the table is rebuilt, which
 * made a cache miss of a short statement three times as slow as classifying it.)
 */
export class ClassifierCache {
  readonly maxEntries: number;
  readonly maxTextLength: number;
  private readonly texts = new Map<string, Generations<Classification>>();
  private readonly shapes = new Map<string, Generations<ShapeEntry>>();
  private lastFlavor: ServerFlavor | null = null;
  private lastTexts: Generations<Classification> | null = null;
  private lastShapes: Generations<ShapeEntry> | null = null;
  /** Texts given a classification by shape once, not kept by text (yet). */
  private seen: Generations<true>;
  hits = 0;
  /** Texts classified afresh. */
  misses = 0;
  /** Texts not seen before whose classification came from the shape cache. */
  shapeHits = 0;

  constructor(opts: ClassifierCacheOptions = {}) {
    this.maxEntries = opts.maxEntries ?? 10_000;
    this.maxTextLength = opts.maxTextLength ?? 16 * 1024;
    this.seen = seenTexts(this.maxEntries);
  }

  classify(sql: string, flavor: ServerFlavor): Classification {
    if (sql.length > this.maxTextLength) return classify(sql, flavor);
    if (flavor !== this.lastFlavor || this.lastTexts === null || this.lastShapes === null) {
      const key = flavorKey(flavor);
      this.lastTexts = getOrAdd(this.texts, key, () => new Generations<Classification>(this.maxEntries));
      this.lastShapes = getOrAdd(this.shapes, key, () => new Generations<ShapeEntry>(this.maxEntries));
      this.lastFlavor = flavor;
    }
    const texts = this.lastTexts;
    const hit = texts.get(sql);
    if (hit !== undefined) {
      this.hits++;
      return hit;
    }
    const lx = tokenize(sql, flavor);
    // Not by shape: an unterminated text, or one that classify() reads both ways (a backslash in a string and an
    // unknown sql_mode).
    const shape = lx.error || (lx.backslashInString && flavor.noBackslashEscapes === undefined) ? null : shapeOf(sql, lx.tokens);
    const entry = shape === null ? undefined : this.lastShapes.get(shape);
    let c: Classification;
    if (entry !== undefined) {
      this.shapeHits++;
      c = withText(entry, sql, lx);
      // Kept by text only from its second sighting (see the class comment).
      if (this.seen.get(sql) === undefined) {
        this.seen.set(sql, true);
        return c;
      }
    } else {
      this.misses++;
      c = deepFreeze(classifyTokenized(sql, flavor, lx));
      const e = shape === null ? null : shapeEntry(c, sql, lx, flavor);
      if (shape !== null && e !== null) this.lastShapes.set(shape, e);
    }
    texts.set(sql, c);
    return c;
  }

  /** Entries held in both caches (an entry copied from an old generation into a young one counts twice until dropped). */
  get entries(): number {
    let n = 0;
    for (const g of this.texts.values()) n += g.size;
    for (const g of this.shapes.values()) n += g.size;
    return n;
  }

  clear(): void {
    this.texts.clear();
    this.shapes.clear();
    this.lastFlavor = null;
    this.lastTexts = null;
    this.lastShapes = null;
    this.seen = seenTexts(this.maxEntries);
  }
}

/** Bound of the texts seen once (ClassifierCache.seen): small enough to stay in the processor's caches. */
const SEEN_MAX = 2048;

/** An empty ClassifierCache.seen, for a cache of `maxEntries` by text. */
function seenTexts(maxEntries: number): Generations<true> {
  return new Generations<true>(Math.min(maxEntries, SEEN_MAX));
}

/** A bounded map in two generations (see ClassifierCache). */
class Generations<V> {
  private young = new Map<string, V>();
  private old = new Map<string, V>();
  private readonly half: number;

  constructor(max: number) {
    this.half = Math.max(1, Math.floor(max / 2));
  }

  get(k: string): V | undefined {
    const v = this.young.get(k);
    if (v !== undefined) return v;
    const o = this.old.get(k);
    if (o !== undefined) this.set(k, o);
    return o;
  }

  set(k: string, v: V): void {
    this.young.set(k, v);
    if (this.young.size >= this.half) {
      this.old = this.young;
      this.young = new Map();
    }
  }

  get size(): number {
    return this.young.size + this.old.size;
  }
}

function getOrAdd<V>(m: Map<string, V>, k: string, make: () => V): V {
  let v = m.get(k);
  if (v === undefined) {
    v = make();
    m.set(k, v);
  }
  return v;
}

function flavorKey(f: ServerFlavor): string {
  return `${f.version}|${f.mariadb ? 1 : 0}|${f.noBackslashEscapes === undefined ? '' : f.noBackslashEscapes ? 1 : 0}|${f.ansiQuotes ? 1 : 0}`;
}

function deepFreeze<T>(o: T): T {
  if (o !== null && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o)) deepFreeze(v);
  }
  return o;
}

// ---- shapes ----

interface ShapeEntry {
  cls: Classification;
  /** Token range of the one statement (the same for every text of the shape). */
  first: number;
  last: number;
}

const SHAPE_KINDS: ReadonlySet<StatementKind> = new Set(['select', 'insert', 'update', 'delete', 'replace']);

function isSlot(t: Token): boolean {
  return t.type === 'string' || t.type === 'number' || t.type === 'hex' || t.type === 'bit';
}

/**
 * The text with each literal replaced by \u0000, its kind and how it is written (the quote or prefix of a string,
 * hex or bit literal; integer or not for a number), \u0000. Everything between literals is kept verbatim.
 */
function shapeOf(sql: string, toks: readonly Token[]): string {
  let out = '';
  let from = 0;
  for (const t of toks) {
    if (!isSlot(t)) continue;
    out += sql.slice(from, t.start);
    let mark: string;
    if (t.type === 'number') mark = /^[0-9]+$/.test(sql.slice(t.start, t.end)) ? 'i' : 'n' + sql.slice(t.start, t.end).replace(/[0-9]+/g, '9');
    else mark = t.type[0]! + sql.charAt(t.start);
    out += '\u0000' + mark + '\u0000';
    from = t.end;
  }
  return out + sql.slice(from);
}

/** The entry to keep for this classification's shape, or null when it may not stand for other texts (see above). */
function shapeEntry(c: Classification, sql: string, lx: LexResult, flavor: ServerFlavor): ShapeEntry | null {
  if (c.literalDependent !== false || !c.parsed || c.statements.length !== 1) return null;
  const s = c.statements[0]!;
  if (!s.parsed || s.into !== null || s.localInfile || s.prepared || s.explained || s.body) return null;
  if (s.kinds.length === 0 || !s.kinds.every((k) => SHAPE_KINDS.has(k))) return null;
  if (s.outputColumns !== null && s.outputColumns.some((o) => o.name !== null)) {
    // A name is the select item's text or its alias: it must not hold a literal of this text.
    const names = s.outputColumns.flatMap((o) => (o.name === null ? [] : [o.name]));
    for (const t of lx.tokens) {
      if (!isSlot(t)) continue;
      const raw = sql.slice(t.start, t.end);
      const value = t.type === 'string' ? stringValue(sql, t, flavor) : null;
      for (const n of names) {
        if (n.includes(raw)) return null;
        if (value !== null && (value === '' ? n === '' : n.includes(value))) return null;
      }
    }
  }
  const segs = splitTokens(lx.tokens, sql.length);
  if (segs.length !== 1 || segs[0]!.compound !== null) return null;
  return { cls: c, first: segs[0]!.first, last: segs[0]!.last };
}

/** Classifications made by shape → the one they were made from. */
const madeFrom = new WeakMap<Classification, Classification>();

/**
 * The classification `c` was made from by shape (see ClassifierCache), or `c` itself: the two are equal in
 * everything but their statement texts. What depends only on the rest (which tables, which output columns come
 * from where) can be kept once for all texts of a shape, keyed by this.
 */
export function shapeRepresentative(c: Classification): Classification {
  return madeFrom.get(c) ?? c;
}

/** The entry's classification with this text's statement text. */
function withText(e: ShapeEntry, sql: string, lx: LexResult): Classification {
  const text = tokenRangeText(sql, lx, e.first, e.last);
  const st: StatementInfo = Object.freeze({ ...e.cls.statements[0]!, text });
  const c = Object.freeze({ ...e.cls, statements: Object.freeze([st]) as StatementInfo[] });
  madeFrom.set(c, e.cls);
  return c;
}
