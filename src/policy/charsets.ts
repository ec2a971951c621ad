/**
 * What the masker needs to know of a character set: whether text in it can be handled as UTF-8, as one byte per
 * character, or not at all. In practice result character sets are utf8mb4 (the gateway announces it); the others
 * appear only when a client sets character_set_results.
 * - `utf8`: utf8/utf8mb3/utf8mb4 and any id we do not know (new collations are nearly all UTF-8 ones).
 * - `single`: one byte per character and ASCII-compatible (latin1, ascii, cp125x, koi8, …).
 * - `multi`: ASCII-compatible multi-byte sets (big5, sjis, gbk, euc…): a trail byte may look like ASCII, so the
 *   detectors skip them and `partial` falls back to `****`.
 * - `wide`: ucs2, utf16, utf16le, utf32: ASCII is not ASCII there; detectors skip them, masked values are
 *   re-declared utf8mb4.
 * - `bytes`: the binary character set.
 */
export type CharsetKind = 'utf8' | 'single' | 'multi' | 'wide' | 'bytes';

const SINGLE = [
  2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 14, 15, 16, 18, 20, 21, 22, 23, 25, 26, 27, 29, 30, 31, 32, 34, 36, 37, 38, 39, 40,
  41, 42, 43, 44, 47, 48, 49, 50, 51, 52, 53, 57, 58, 59, 64, 65, 66, 67, 68, 69, 70, 71, 72, 73, 74, 75, 77, 78, 79,
  80, 81, 82, 89, 92, 93, 94, 99,
];
const MULTI = [1, 12, 13, 19, 24, 28, 84, 85, 86, 87, 88, 91, 95, 96, 97, 98, 248, 249, 250];
const WIDE = [35, 54, 55, 56, 60, 61, 62, 90, 159];

const KIND = new Map<number, CharsetKind>([
  ...SINGLE.map((id): [number, CharsetKind] => [id, 'single']),
  ...MULTI.map((id): [number, CharsetKind] => [id, 'multi']),
  ...WIDE.map((id): [number, CharsetKind] => [id, 'wide']),
  [63, 'bytes'],
]);

export function charsetKind(id: number): CharsetKind {
  const k = KIND.get(id);
  if (k !== undefined) return k;
  // ucs2 (128–151), utf16 (101–124), utf32 (160–183) collations.
  if ((id >= 101 && id <= 124) || (id >= 128 && id <= 151) || (id >= 160 && id <= 183)) return 'wide';
  return 'utf8';
}
