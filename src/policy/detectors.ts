import type { DetectorName } from '../config/types.ts';

/**
 * Content detectors. They run on every string cell of every row once a policy enables them, so they scan bytes
 * (no string is made unless something is found), start with one cheap pass that counts digits and spots trigger
 * characters, and only then run the scanners that pass cannot rule out. Scanners are hand-written loops that move
 * forward (no regular expressions, so no backtracking), each bounded by the cell's length.
 *
 * All patterns are ASCII, so UTF-8 text can be scanned as bytes: a byte of a multi-byte character (>= 0x80) is
 * never part of a match and counts as a boundary. Matches are reported as [start, end) byte offsets; the masker
 * replaces the matching part of the cell, not the whole cell (except in the `null` style).
 */

export const Det = {
  credit_card: 0,
  email: 1,
  ssn: 2,
  iban: 3,
  phone: 4,
  api_key: 5,
  jwt: 6,
  /** A private key block: reported apart from other API keys because `partial` keeps its BEGIN/END lines. */
  pem: 7,
} as const;

export const DETECTOR_OF_ID: readonly DetectorName[] = ['credit_card', 'email', 'ssn', 'iban', 'phone', 'api_key', 'jwt', 'api_key'];

const F_AT = 1, F_PLUS = 2, F_AWS = 4, F_UNDERSCORE = 8, F_XOX = 16, F_PEM = 32, F_JWT = 64;

// The first pass looks every byte up in this table: most bytes of ordinary text (lower-case letters, spaces,
// punctuation, UTF-8 continuation bytes) are C_PLAIN and cost one load and one comparison.
const C_PLAIN = 0, C_DIGIT = 1, C_UPPER = 2, C_A = 3, C_AT = 4, C_PLUS = 5, C_UNDERSCORE = 6, C_X = 7, C_E = 8, C_DASH = 9;
const BYTE_CLASS: Uint8Array = (() => {
  const t = new Uint8Array(256);
  for (let c = 48; c <= 57; c++) t[c] = C_DIGIT;
  for (let c = 65; c <= 90; c++) t[c] = C_UPPER;
  t[65] = C_A;
  t[64] = C_AT;
  t[43] = C_PLUS;
  t[95] = C_UNDERSCORE;
  t[120] = C_X;
  t[101] = C_E;
  t[45] = C_DASH;
  return t;
})();

function isDigit(c: number | undefined): boolean {
  return c !== undefined && c >= 48 && c <= 57;
}

function isUpper(c: number | undefined): boolean {
  return c !== undefined && c >= 65 && c <= 90;
}

function isAlnum(c: number | undefined): boolean {
  return c !== undefined && ((c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122));
}

function isB64Url(c: number | undefined): boolean {
  return isAlnum(c) || c === 45 || c === 95;
}

function isWordByte(c: number | undefined): boolean {
  return isAlnum(c) || c === 95;
}

/** Card number prefixes (IIN ranges) of the networks in use, with the lengths each issues. */
function cardPrefixOk(d: ArrayLike<number>, n: number): boolean {
  const p1 = d[0]! - 48;
  const p2 = p1 * 10 + d[1]! - 48;
  const p3 = p2 * 10 + d[2]! - 48;
  const p4 = p3 * 10 + d[3]! - 48;
  if (p1 === 4) return n === 13 || n === 16 || n === 19; // Visa
  if ((p2 >= 51 && p2 <= 55) || (p4 >= 2221 && p4 <= 2720)) return n === 16; // Mastercard
  if (p2 === 34 || p2 === 37) return n === 15; // American Express
  if (p4 === 6011 || p2 === 65 || (p3 >= 644 && p3 <= 649) || p2 === 62) return n >= 16 && n <= 19; // Discover, UnionPay
  if (p4 >= 3528 && p4 <= 3589) return n >= 16 && n <= 19; // JCB
  if (p2 === 36 || p2 === 38 || p2 === 39 || (p3 >= 300 && p3 <= 305)) return n >= 14 && n <= 19; // Diners
  if (p2 === 50 || (p2 >= 56 && p2 <= 69)) return n >= 13 && n <= 19; // Maestro
  return false;
}

function luhn(d: ArrayLike<number>, n: number): boolean {
  let sum = 0;
  let dbl = false;
  for (let k = n - 1; k >= 0; k--) {
    let v = d[k]! - 48;
    if (dbl) {
      v *= 2;
      if (v > 9) v -= 9;
    }
    sum += v;
    dbl = !dbl;
  }
  return sum % 10 === 0;
}

/** SSA rules: area 000, 666 and 900–999, group 00 and serial 0000 are never issued. */
function ssnOk(a: number, g: number, s: number): boolean {
  return a !== 0 && a !== 666 && a < 900 && g !== 0 && s !== 0;
}

/** NANP: area code and exchange start with 2–9 (digits as ASCII codes at d[o..o+10)). */
function nanpOk(d: ArrayLike<number>, o: number): boolean {
  return d[o]! >= 50 && d[o + 3]! >= 50;
}

/** IBAN length per country (ISO 13616 registry). */
const IBAN_LENGTH: ReadonlyMap<number, number> = (() => {
  const spec = 'AD24 AE23 AL28 AT20 AZ28 BA20 BE16 BG22 BH22 BI27 BR29 BY28 CH21 CR22 CY28 CZ24 DE22 DJ27 DK18 DO28 ' +
    'EE20 EG29 ES24 FI18 FK18 FO18 FR27 GB22 GE22 GI23 GL18 GR27 GT28 HR21 HU28 IE22 IL23 IQ23 IS26 IT27 JO30 KW30 ' +
    'KZ20 LB28 LC32 LI21 LT20 LU20 LV21 LY25 MC27 MD24 ME22 MK19 MN20 MR27 MT31 MU30 NI28 NL18 NO15 OM23 PK24 PL28 ' +
    'PS29 PT25 QA29 RO24 RS22 RU33 SA24 SC31 SD18 SE24 SI19 SK24 SM27 SO23 ST25 SV28 TL23 TN24 TR26 UA29 VA22 VG24 XK20';
  const m = new Map<number, number>();
  for (const e of spec.split(' ')) m.set(e.charCodeAt(0) * 256 + e.charCodeAt(1), Number(e.slice(2)));
  return m;
})();

const MAX_GROUPS = 24;

export class Detectors {
  private readonly on: boolean[];
  readonly any: boolean;
  /** Detectors that also apply to integer cells. */
  readonly numeric: boolean;
  // Scratch space, per instance (one per result-set masker): no allocation while scanning. Plain arrays of small
  // integers, not typed arrays: a masker is built per result set, and each typed array costs an allocation of its
  // own backing store (measured: six of them took 2 µs, longer than building the rest of the masker).
  // They grow on first use and are written from index 0 up, so they stay dense.
  private readonly gs: number[] = [];
  private readonly ge: number[] = [];
  private readonly gsep: number[] = [];
  private readonly gparen: number[] = [];
  private groups = 0;
  /** Digits of a candidate, as ASCII codes. */
  readonly digits: number[] = new Array<number>(24).fill(0);

  constructor(names: Iterable<DetectorName>) {
    this.on = new Array<boolean>(8).fill(false);
    for (const n of names) this.on[Det[n]] = true;
    this.on[Det.pem] = this.on[Det.api_key]!;
    this.any = this.on.some((x) => x);
    this.numeric = this.on[Det.credit_card]! || this.on[Det.ssn]! || this.on[Det.phone]!;
    this.digitsOnly = !this.on[Det.iban] && !this.on[Det.email] && !this.on[Det.api_key] && !this.on[Det.jwt];
    this.minDigits = this.on[Det.phone] ? 8 : this.on[Det.ssn] ? 9 : 13;
  }

  private readonly digitsOnly: boolean;
  private readonly minDigits: number;

  enabled(name: DetectorName): boolean {
    return this.on[Det[name]]!;
  }

  /**
   * Scans b[s, e) and appends a (start, end, detector id) triple per match to `out`. Matches of different
   * detectors may overlap; the caller keeps the first of overlapping ones.
   */
  scan(b: Uint8Array, s: number, e: number, out: number[]): void {
    if (this.digitsOnly) {
      // Only digit-based detectors are on: count digits, nothing else, and stop as soon as the other bytes leave
      // too few places for the digits any detector needs (a short text gives up within its first bytes).
      const maxOther = e - s - this.minDigits;
      if (maxOther < 0) return;
      let other = 0;
      for (let i = s; i < e; i++) {
        const c = b[i]!;
        if ((c < 48 || c > 57) && ++other > maxOther) return;
      }
      const d = e - s - other;
      const on = this.on;
      if (on[Det.credit_card] && d >= 13) this.cards(b, s, e, out);
      if (on[Det.ssn] && d >= 9) this.ssns(b, s, e, out);
      if (on[Det.phone] && d >= 8) this.phones(b, s, e, out);
      return;
    }
    let digits = 0;
    let upper = 0;
    let flags = 0;
    const cls = BYTE_CLASS;
    for (let i = s; i < e; i++) {
      const k = cls[b[i]!]!;
      if (k === C_PLAIN) continue;
      if (k === C_DIGIT) digits++;
      else if (k === C_UPPER) upper++;
      else if (k === C_A) {
        upper++;
        const n = b[i + 1];
        if (n === 75 || n === 83 || n === 73) flags |= F_AWS; // AK, AS, AI
      } else if (k === C_AT) flags |= F_AT;
      else if (k === C_PLUS) flags |= F_PLUS;
      else if (k === C_UNDERSCORE) flags |= F_UNDERSCORE;
      else if (k === C_X) {
        if (b[i + 1] === 111 && b[i + 2] === 120) flags |= F_XOX;
      } else if (k === C_E) {
        if (b[i + 1] === 121 && b[i + 2] === 74) flags |= F_JWT; // eyJ: base64url of `{"`
      } else if (b[i + 1] === 45 && b[i + 2] === 45 && b[i + 3] === 45 && b[i + 4] === 45) flags |= F_PEM; // C_DASH
    }
    const on = this.on;
    if (on[Det.credit_card] && digits >= 13) this.cards(b, s, e, out);
    if (on[Det.ssn] && digits >= 9) this.ssns(b, s, e, out);
    if (on[Det.phone] && digits >= 8) this.phones(b, s, e, out);
    if (on[Det.iban] && digits >= 2 && upper >= 2 && e - s >= 15) this.ibans(b, s, e, out);
    if (on[Det.email] && flags & F_AT) this.emails(b, s, e, out);
    if (on[Det.api_key] && flags & (F_AWS | F_UNDERSCORE | F_XOX | F_PEM)) this.apiKeys(b, s, e, out);
    if (on[Det.jwt] && flags & F_JWT) this.jwts(b, s, e, out);
  }

  /**
   * Which numeric detector matches a whole non-negative integer whose decimal digits (ASCII) are
   * `this.digits[0, n)`, or -1. Only shapes that are unlikely in ordinary integer columns are accepted: a card
   * number with a network prefix and a valid Luhn digit, a 9-digit SSN outside the never-issued ranges, a
   * 10-digit NANP number or 11 digits starting with country code 1.
   */
  integer(n: number): number {
    const d = this.digits;
    if (this.on[Det.credit_card] && n >= 13 && n <= 19 && cardPrefixOk(d, n) && luhn(d, n)) return Det.credit_card;
    if (this.on[Det.ssn] && n === 9) {
      const a = (d[0]! - 48) * 100 + (d[1]! - 48) * 10 + d[2]! - 48;
      const g = (d[3]! - 48) * 10 + d[4]! - 48;
      const sr = (d[5]! - 48) * 1000 + (d[6]! - 48) * 100 + (d[7]! - 48) * 10 + d[8]! - 48;
      if (ssnOk(a, g, sr)) return Det.ssn;
    }
    if (this.on[Det.phone]) {
      if (n === 10 && nanpOk(d, 0)) return Det.phone;
      if (n === 11 && d[0] === 49 && nanpOk(d, 1)) return Det.phone;
    }
    return -1;
  }

  // ---- credit cards: 13–19 digits, single spaces or hyphens allowed between digit groups ----

  private cards(b: Uint8Array, s: number, e: number, out: number[]): void {
    let i = s;
    while (i < e) {
      const c = b[i]!;
      if (!(c >= 48 && c <= 57)) {
        i++;
        continue;
      }
      if (i > s && isAlnum(b[i - 1])) {
        // Digits glued to letters (an order code, a hash): skip the whole word.
        while (i < e && isAlnum(b[i])) i++;
        continue;
      }
      const g = this.digitGroups(b, i, e, false, false);
      const runEnd = this.ge[g - 1]!;
      if (!(runEnd < e && isAlnum(b[runEnd]))) {
        let a = 0;
        while (a < g) {
          let total = 0;
          let best = -1;
          for (let z = a; z < g; z++) {
            total += this.ge[z]! - this.gs[z]!;
            if (total > 19) break;
            if (total >= 13 && this.cardIn(b, a, z, total)) best = z;
          }
          if (best >= 0) {
            out.push(this.gs[a]!, this.ge[best]!, Det.credit_card);
            a = best + 1;
          } else a++;
        }
      }
      i = runEnd > i ? runEnd : i + 1;
    }
  }

  private cardIn(b: Uint8Array, a: number, z: number, n: number): boolean {
    const d = this.digits;
    let k = 0;
    for (let g = a; g <= z; g++) for (let p = this.gs[g]!; p < this.ge[g]!; p++) d[k++] = b[p]!;
    return cardPrefixOk(d, n) && luhn(d, n);
  }

  /**
   * Reads digit groups from `i`: digits, then one separator (space, hyphen, and for phones a dot) followed by more
   * digits, and so on; with `parens`, a group may be wrapped in parentheses (`(415) 555-2671`). Fills gs/ge/gsep/
   * gparen and returns the number of groups (at least 1 when b[i] is a digit or `(digit`).
   */
  private digitGroups(b: Uint8Array, i: number, e: number, dots: boolean, parens: boolean): number {
    let g = 0;
    let k = i;
    let sep = 0;
    while (g < MAX_GROUPS) {
      let paren = 0;
      if (parens && b[k] === 40 && isDigit(b[k + 1])) {
        paren = 1;
        k++;
      }
      const start = k;
      while (k < e && b[k]! >= 48 && b[k]! <= 57) k++;
      if (k === start) break;
      if (paren) {
        if (b[k] !== 41) {
          // `(123` without `)`: not a group of ours; end before the parenthesis.
          k = start - 1;
          break;
        }
        k++;
      }
      this.gs[g] = start;
      this.ge[g] = paren ? k - 1 : k;
      this.gsep[g] = sep;
      this.gparen[g] = paren;
      g++;
      const c = b[k];
      if (k + 1 < e && (c === 32 || c === 45 || (dots && c === 46)) && (isDigit(b[k + 1]) || (parens && b[k + 1] === 40))) {
        sep = c!;
        k++;
        continue;
      }
      if (paren && isDigit(c)) {
        sep = 41; // `(415)555-2671`
        continue;
      }
      break;
    }
    this.groups = g;
    return g;
  }

  // ---- US social security numbers: 123-45-6789 / 123 45 6789, or a cell of exactly 9 digits ----

  private ssns(b: Uint8Array, s: number, e: number, out: number[]): void {
    if (e - s === 9) {
      let all = true;
      for (let i = s; i < e; i++) if (!isDigit(b[i])) all = false;
      if (all) {
        const d = this.digits;
        for (let i = 0; i < 9; i++) d[i] = b[s + i]!;
        if (this.ssnDigits(d)) out.push(s, e, Det.ssn);
        return;
      }
    }
    let i = s;
    while (i + 11 <= e) {
      if (!isDigit(b[i])) {
        i++;
        continue;
      }
      const p = i > s ? b[i - 1] : undefined;
      const sep = b[i + 3];
      if (
        !isAlnum(p) && p !== 45 && p !== 46 && (sep === 45 || sep === 32) && b[i + 6] === sep &&
        isDigit(b[i + 1]) && isDigit(b[i + 2]) && isDigit(b[i + 4]) && isDigit(b[i + 5]) &&
        isDigit(b[i + 7]) && isDigit(b[i + 8]) && isDigit(b[i + 9]) && isDigit(b[i + 10])
      ) {
        const end = i + 11;
        const n = b[end];
        const boundary = end === e || (!isAlnum(n) && !((n === 45 || n === 46) && isDigit(b[end + 1])));
        const a = (b[i]! - 48) * 100 + (b[i + 1]! - 48) * 10 + b[i + 2]! - 48;
        const g = (b[i + 4]! - 48) * 10 + b[i + 5]! - 48;
        const sr = (b[i + 7]! - 48) * 1000 + (b[i + 8]! - 48) * 100 + (b[i + 9]! - 48) * 10 + b[i + 10]! - 48;
        if (boundary && ssnOk(a, g, sr)) {
          out.push(i, end, Det.ssn);
          i = end;
          continue;
        }
      }
      while (i < e && isDigit(b[i])) i++;
    }
  }

  private ssnDigits(d: ArrayLike<number>): boolean {
    const a = (d[0]! - 48) * 100 + (d[1]! - 48) * 10 + d[2]! - 48;
    const g = (d[3]! - 48) * 10 + d[4]! - 48;
    const sr = (d[5]! - 48) * 1000 + (d[6]! - 48) * 100 + (d[7]! - 48) * 10 + d[8]! - 48;
    return ssnOk(a, g, sr);
  }

  // ---- phone numbers ----
  // E.164 (`+` and 8–15 digits, separators allowed), `00` international prefix, NANP with separators
  // (`(415) 555-2671`, `415-555-2671`, `415.555.2671`, `1 415 555 2671`) and national numbers with a trunk 0
  // (`020 7946 0958`, `06 12 34 56 78`). A bare run of 10 digits is not taken for a phone number in text.

  private phones(b: Uint8Array, s: number, e: number, out: number[]): void {
    let i = s;
    while (i < e) {
      const c = b[i]!;
      const p = i > s ? b[i - 1] : undefined;
      const boundary = !isAlnum(p) && p !== 43 && !((p === 45 || p === 46) && i - 1 > s && isDigit(b[i - 2]));
      if (c === 43 && boundary && (isDigit(b[i + 1]) || (b[i + 1] === 40 && isDigit(b[i + 2])))) {
        const g = this.digitGroups(b, i + 1, e, true, true);
        const end = g > 0 ? this.e164(b, g, e, 0) : -1;
        if (end > 0) out.push(i, end, Det.phone);
        i = g > 0 ? Math.max(i + 1, this.ge[g - 1]!) : i + 1;
        continue;
      }
      if ((isDigit(c) || (c === 40 && isDigit(b[i + 1]))) && boundary) {
        const g = this.digitGroups(b, i, e, true, true);
        if (g === 0) {
          i++;
          continue;
        }
        const end = this.nationalPhone(b, g, e);
        if (end > 0) out.push(i, end, Det.phone);
        i = Math.max(i + 1, this.ge[g - 1]! + (this.gparen[g - 1] ? 1 : 0));
        continue;
      }
      i++;
    }
  }

  /** Groups 0..k-1 as one number: end offset when what follows is a boundary (or a space before more text). */
  private endAfter(b: Uint8Array, k: number, e: number): number {
    const end = this.ge[k - 1]! + (this.gparen[k - 1] ? 1 : 0);
    if (k === this.groups) return end === e || !isAlnum(b[end]) ? end : -1;
    // More groups follow: only a space may separate this number from the next one.
    return this.gsep[k] === 32 ? end : -1;
  }

  private digitsIn(from: number, to: number): number {
    let n = 0;
    for (let g = from; g < to; g++) n += this.ge[g]! - this.gs[g]!;
    return n;
  }

  /** `+` then the groups: country code 1–9, 8–15 digits in all. Returns the end offset or -1. */
  private e164(b: Uint8Array, g: number, e: number, skipDigits: number): number {
    if (g === 0 || b[this.gs[0]! + skipDigits] === 48) return -1;
    for (let k = g; k >= 1; k--) {
      const n = this.digitsIn(0, k) - skipDigits;
      if (n > 15) continue;
      if (n < 8) return -1;
      const end = this.endAfter(b, k, e);
      if (end > 0) return end;
    }
    return -1;
  }

  private nationalPhone(b: Uint8Array, g: number, e: number): number {
    const len = (k: number) => this.ge[k]! - this.gs[k]!;
    const first = this.gs[0]!;
    // `0044 20 7946 0958`: the 00 international prefix, then as after `+`.
    if (g >= 2 && b[first] === 48 && b[first + 1] === 48 && len(0) > 2) return this.e164(b, g, e, 2);
    // NANP: [1] NXX NXX XXXX, the area code optionally in parentheses, nothing else in parentheses.
    const o = g >= 4 && len(0) === 1 && b[first] === 49 && !this.gparen[0] ? 1 : 0;
    if (g >= 3 + o && len(o) === 3 && len(o + 1) === 3 && len(o + 2) === 4 && !this.gparen[o + 1] && !this.gparen[o + 2] &&
      b[this.gs[o]!]! >= 50 && b[this.gs[o + 1]!]! >= 50) {
      const end = this.endAfter(b, o + 3, e);
      if (end > 0) return end;
    }
    // National with trunk 0: 0 then 1–9, 2+ groups of 2–8 digits, one separator kind (space or hyphen), 10–11 digits.
    if (b[first] === 48 && len(0) >= 2 && b[first + 1] !== 48 && !this.gparen[0]) {
      const sep = g >= 2 ? this.gsep[1]! : 0;
      if (sep === 32 || sep === 45) {
        let n = 0;
        for (let k = 0; k < g; k++) {
          if (this.gparen[k] || len(k) < 2 || len(k) > 8 || (k > 0 && this.gsep[k] !== sep)) break;
          n += len(k);
          if (n > 11) break;
          if (k >= 1 && n >= 10) {
            const end = this.endAfter(b, k + 1, e);
            if (end > 0) return end;
          }
        }
      }
    }
    return -1;
  }

  // ---- IBAN: country code, 2 check digits, the country's length, mod-97 = 1; spaces every 4 allowed ----

  private ibans(b: Uint8Array, s: number, e: number, out: number[]): void {
    for (let i = s; i + 15 <= e; i++) {
      if (!isUpper(b[i]) || !isUpper(b[i + 1]) || !isDigit(b[i + 2]) || !isDigit(b[i + 3])) continue;
      if (i > s && isAlnum(b[i - 1])) continue;
      const len = IBAN_LENGTH.get(b[i]! * 256 + b[i + 1]!);
      if (len === undefined) continue;
      let k = i;
      let n = 0;
      while (n < len && k < e) {
        const c = b[k]!;
        if (isDigit(c) || isUpper(c)) {
          n++;
          k++;
        } else if (c === 32 && n % 4 === 0 && n > 0 && (isDigit(b[k + 1]) || isUpper(b[k + 1]))) k++;
        else break;
      }
      if (n !== len || (k < e && isAlnum(b[k]))) continue;
      if (this.ibanChecksum(b, i, k)) {
        out.push(i, k, Det.iban);
        i = k - 1;
      }
    }
  }

  private ibanChecksum(b: Uint8Array, s: number, e: number): boolean {
    // Move the first four characters to the end; letters count as 10–35; the remainder mod 97 must be 1.
    let rem = 0;
    const add = (c: number) => {
      if (c === 32) return;
      if (c >= 65) rem = (rem * 100 + (c - 55)) % 97;
      else rem = (rem * 10 + (c - 48)) % 97;
    };
    for (let k = s + 4; k < e; k++) add(b[k]!);
    for (let k = s; k < s + 4; k++) add(b[k]!);
    return rem === 1;
  }

  // ---- email addresses ----

  private emails(b: Uint8Array, s: number, e: number, out: number[]): void {
    let from = s;
    while (from < e) {
      const at = b.indexOf(64, from);
      if (at < 0 || at >= e) return;
      from = at + 1;
      let l = at;
      while (l > s && isLocalByte(b[l - 1])) l--;
      while (l < at && b[l] === 46) l++; // no leading dot
      if (l === at) continue;
      // Domain: labels of [A-Za-z0-9-] joined by single dots; the last label is 2+ letters.
      let k = at + 1;
      let lastDot = -1;
      let labelStart = k;
      while (k < e) {
        const c = b[k]!;
        if (isAlnum(c) || c === 45) k++;
        else if (c === 46 && k > labelStart && isAlnum(b[k + 1])) {
          lastDot = k;
          k++;
          labelStart = k;
        } else break;
      }
      while (k > at + 1 && b[k - 1] === 45) k--;
      if (lastDot < 0 || k - lastDot - 1 < 2) continue;
      let tldLetters = true;
      for (let t = lastDot + 1; t < k; t++) if (!((b[t]! >= 65 && b[t]! <= 90) || (b[t]! >= 97 && b[t]! <= 122))) tldLetters = false;
      if (!tldLetters) continue;
      out.push(l, k, Det.email);
      from = k;
    }
  }

  // ---- API keys and private keys ----

  private apiKeys(b: Uint8Array, s: number, e: number, out: number[]): void {
    for (let i = s; i < e; i++) {
      const c = b[i]!;
      if (c !== 65 && c !== 103 && c !== 120 && c !== 115 && c !== 114 && c !== 45) continue;
      if (i > s && c !== 45 && isWordByte(b[i - 1])) continue;
      let end = -1;
      let id: number = Det.api_key;
      if (c === 65) {
        // AWS access key ids: AKIA/ASIA + 16 upper-case letters or digits. Google API keys: AIza + 35.
        if (b[i + 1] === 75 || b[i + 1] === 83) {
          if (b[i + 2] === 73 && b[i + 3] === 65) end = this.fixedRun(b, i + 4, e, 16, isUpperOrDigit);
        } else if (b[i + 1] === 73 && b[i + 2] === 122 && b[i + 3] === 97) end = this.fixedRun(b, i + 4, e, 35, isB64Url);
      } else if (c === 103) {
        // GitHub: ghp_/gho_/ghs_/ghu_/ghr_ + 36, github_pat_ + 22 or more.
        if (b[i + 1] === 104 && b[i + 3] === 95 && (b[i + 2] === 112 || b[i + 2] === 111 || b[i + 2] === 115 || b[i + 2] === 117 || b[i + 2] === 114)) {
          end = this.minRun(b, i + 4, e, 30, isAlnum);
        } else if (startsWith(b, i, e, GITHUB_PAT)) end = this.minRun(b, i + GITHUB_PAT.length, e, 22, isWordByte);
      } else if (c === 120) {
        // Slack: xoxa-/xoxb-/xoxp-/xoxr-/xoxs- + 10 or more.
        const t = b[i + 3];
        if (b[i + 1] === 111 && b[i + 2] === 120 && (t === 97 || t === 98 || t === 112 || t === 114 || t === 115) && b[i + 4] === 45) {
          end = this.minRun(b, i + 5, e, 10, isAlnumOrDash);
        }
      } else if (c === 115 || c === 114) {
        // Stripe live secret and restricted keys.
        if (startsWith(b, i + 1, e, K_LIVE)) end = this.minRun(b, i + 1 + K_LIVE.length, e, 16, isAlnum);
      } else if (startsWith(b, i, e, PEM_BEGIN)) {
        end = this.pem(b, i, e);
        id = Det.pem;
      }
      if (end > 0) {
        out.push(i, end, id);
        i = end - 1;
      }
    }
  }

  /** Exactly n bytes of the class, then a non-word boundary; returns the end or -1. */
  private fixedRun(b: Uint8Array, i: number, e: number, n: number, cls: (c: number | undefined) => boolean): number {
    if (i + n > e) return -1;
    for (let k = i; k < i + n; k++) if (!cls(b[k])) return -1;
    return i + n < e && cls(b[i + n]) ? -1 : i + n;
  }

  /** At least n bytes of the class (as many as there are); returns the end or -1. */
  private minRun(b: Uint8Array, i: number, e: number, n: number, cls: (c: number | undefined) => boolean): number {
    let k = i;
    while (k < e && cls(b[k])) k++;
    return k - i >= n ? k : -1;
  }

  /** `-----BEGIN … PRIVATE KEY-----`, its base64 body and the END line when present. */
  private pem(b: Uint8Array, i: number, e: number): number {
    let k = i + PEM_BEGIN.length;
    const headLimit = Math.min(e, k + 40);
    while (k < headLimit && b[k] !== 45) k++;
    if (!startsWith(b, k - PRIVATE_KEY.length, e, PRIVATE_KEY) || !startsWith(b, k, e, DASHES)) return -1;
    k += DASHES.length;
    // Body: base64 and whitespace, also `\n` written as two characters (a key inside a JSON string).
    while (k < e) {
      const c = b[k]!;
      if (isAlnum(c) || c === 43 || c === 47 || c === 61 || c === 32 || c === 10 || c === 13 || c === 9 || c === 92 || c === 58 || c === 44) k++;
      else if (c === 45 && !startsWith(b, k, e, DASHES)) k++; // `Proc-Type:` / `DEK-Info:` headers
      else break;
    }
    if (startsWith(b, k, e, PEM_END)) {
      let f = k + PEM_END.length;
      const footLimit = Math.min(e, f + 40);
      while (f < footLimit && b[f] !== 45) f++;
      if (startsWith(b, f, e, DASHES)) return f + DASHES.length;
    }
    // No END line (cut-off value): mask what was seen, never past a quote or brace, so JSON stays whole.
    while (k > i && (b[k - 1] === 92 || b[k - 1] === 32 || b[k - 1] === 10 || b[k - 1] === 13)) k--;
    return k;
  }

  // ---- JSON Web Tokens: three base64url segments, the first decoding to a JSON object with `alg` ----

  private jwts(b: Uint8Array, s: number, e: number, out: number[]): void {
    let from = s;
    while (from < e) {
      let i = -1;
      for (let k = from; k + 2 < e; k++) {
        if (b[k] === 101 && b[k + 1] === 121 && b[k + 2] === 74 && (k === s || (!isB64Url(b[k - 1]) && b[k - 1] !== 46))) {
          i = k;
          break;
        }
      }
      if (i < 0) return;
      let k = i;
      while (k < e && isB64Url(b[k])) k++;
      const headEnd = k;
      from = k + 1;
      if (headEnd - i < 10 || b[k] !== 46) continue;
      k++;
      const payStart = k;
      while (k < e && isB64Url(b[k])) k++;
      if (k - payStart < 2 || b[k] !== 46) continue;
      k++;
      while (k < e && isB64Url(b[k])) k++;
      if (k < e && b[k] === 46) continue;
      if (!jsonHeader(b, i, headEnd)) continue;
      out.push(i, k, Det.jwt);
      from = k;
    }
  }
}

function isLocalByte(c: number | undefined): boolean {
  return isAlnum(c) || c === 46 || c === 95 || c === 37 || c === 43 || c === 45;
}

function isUpperOrDigit(c: number | undefined): boolean {
  return isUpper(c) || isDigit(c);
}

function isAlnumOrDash(c: number | undefined): boolean {
  return isAlnum(c) || c === 45;
}

const GITHUB_PAT = Buffer.from('github_pat_');
const K_LIVE = Buffer.from('k_live_');
const PEM_BEGIN = Buffer.from('-----BEGIN ');
const PEM_END = Buffer.from('-----END ');
const PRIVATE_KEY = Buffer.from('PRIVATE KEY');
const DASHES = Buffer.from('-----');

function startsWith(b: Uint8Array, i: number, e: number, what: Uint8Array): boolean {
  if (i < 0 || i + what.length > e) return false;
  for (let k = 0; k < what.length; k++) if (b[i + k] !== what[k]) return false;
  return true;
}

function jsonHeader(b: Uint8Array, s: number, e: number): boolean {
  if (e - s > 2048) return false;
  try {
    const v: unknown = JSON.parse(Buffer.from(Buffer.from(b.buffer, b.byteOffset + s, e - s).toString('latin1'), 'base64url').toString('utf8'));
    return typeof v === 'object' && v !== null && typeof (v as { alg?: unknown }).alg === 'string';
  } catch {
    return false;
  }
}
