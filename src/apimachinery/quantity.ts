// resource.Quantity: parsing, canonical form, comparison and exact accessors.
//
// A quantity is held as an exact decimal (bigint mantissa × 10^scale) plus the
// format it was written in, never as a float: capacities are compared when PVs
// are matched to claims, and a float would make 1Gi and 1073741824 disagree.
//
// The canonical string must be byte-for-byte what apimachinery writes, because
// kubectl shows it (`1024Mi` → `1Gi`) and clients diff against it. The rules,
// taken from apimachinery's ParseQuantity / CanonicalizeBytes:
//   - When the input is already canonical the parser keeps the input string
//     verbatim (that is why `1e3` stays `1e3` and `+5Gi` stays `+5Gi`).
//   - Otherwise the value is printed in its format: DecimalSI and
//     DecimalExponent use the largest exponent that is a multiple of 3 and
//     keeps an integer mantissa; BinarySI uses the largest power of 1024,
//     except that values strictly between -1024 and 1024 and values that are
//     not whole numbers are printed as DecimalSI.
//   - Values are rounded up (away from zero) to nano precision, and binary
//     values are capped at 2^63-1.
//   - DecimalSI has no suffix beyond E (10^18); larger exponents are written
//     in exponent notation (`1000E` → `1e21`) as current apimachinery does,
//     rather than losing the magnitude as older releases did.

/** The three notations a quantity can be written (and re-printed) in. */
export type QuantityFormat = 'DecimalExponent' | 'BinarySI' | 'DecimalSI';

/** An exact quantity: value = unscaled × 10^scale. Immutable. */
export interface Quantity {
  readonly unscaled: bigint;
  readonly scale: number;
  readonly format: QuantityFormat;
  /** The input string when the parser found it already canonical; printed verbatim. */
  readonly cached?: string;
}

/** The regular expression apimachinery quotes in its format error. */
export const QUANTITY_SPLIT_RE = '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$';

const REASON_MESSAGES = {
  format: `quantities must match the regular expression '${QUANTITY_SPLIT_RE}'`,
  numeric: 'unable to parse numeric part of quantity',
  suffix: "unable to parse quantity's suffix",
} as const;

export type QuantityParseReason = keyof typeof REASON_MESSAGES;

/** Thrown for a string that is not a quantity; the message is apimachinery's. */
export class QuantityParseError extends Error {
  override readonly name = 'QuantityParseError';
  readonly input: string;
  readonly reason: QuantityParseReason;
  constructor(input: string, reason: QuantityParseReason) {
    super(REASON_MESSAGES[reason]);
    this.input = input;
    this.reason = reason;
  }
}

const NANO = -9;
const MAX_INT64 = (1n << 63n) - 1n;
const MAX_INT32 = 2147483647;

interface Scanned {
  positive: boolean;
  num: string;
  denom: string;
  suffix: string;
}

function isDigit(c: string | undefined): boolean {
  return c !== undefined && c >= '0' && c <= '9';
}

const SUFFIX_CHARS = 'eEinumkKMGTP';

/**
 * Splits `str` into sign, integer digits (leading zeros dropped, at least "0"),
 * fraction digits and suffix, exactly as apimachinery's scanner does — which is
 * more permissive than the documented grammar (`.`, `1.` and `Ki` all scan).
 */
function scanQuantity(str: string): Scanned | undefined {
  let positive = true;
  let pos = 0;
  const end = str.length;
  if (end > 0) {
    if (str[0] === '-') {
      positive = false;
      pos++;
    } else if (str[0] === '+') {
      pos++;
    }
  }
  for (let i = pos; ; i++) {
    if (i >= end) return { positive, num: '0', denom: '', suffix: '' };
    if (str[i] !== '0') break;
    pos++;
  }
  let num: string;
  for (let i = pos; ; i++) {
    if (i >= end) return { positive, num: str.slice(pos, end), denom: '', suffix: '' };
    if (!isDigit(str[i])) {
      num = str.slice(pos, i);
      pos = i;
      break;
    }
  }
  if (num.length === 0) num = '0';
  let denom = '';
  if (pos < end && str[pos] === '.') {
    pos++;
    for (let i = pos; ; i++) {
      if (i >= end) return { positive, num, denom: str.slice(pos, end), suffix: '' };
      if (!isDigit(str[i])) {
        denom = str.slice(pos, i);
        pos = i;
        break;
      }
    }
  }
  const suffixStart = pos;
  for (let i = pos; ; i++) {
    if (i >= end) return { positive, num, denom, suffix: str.slice(suffixStart, end) };
    if (!SUFFIX_CHARS.includes(str[i])) {
      pos = i;
      break;
    }
  }
  if (pos < end && (str[pos] === '-' || str[pos] === '+')) pos++;
  for (let i = pos; ; i++) {
    if (i >= end) return { positive, num, denom, suffix: str.slice(suffixStart, end) };
    if (!isDigit(str[i])) return undefined;
  }
}

interface SuffixMeaning {
  base: 2 | 10;
  exponent: number;
  format: QuantityFormat;
}

const DECIMAL_SUFFIXES: Record<string, number> = { n: -9, u: -6, m: -3, '': 0, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };
const BINARY_SUFFIXES: Record<string, number> = { Ki: 10, Mi: 20, Gi: 30, Ti: 40, Pi: 50, Ei: 60 };
const DECIMAL_BY_EXPONENT = new Map(Object.entries(DECIMAL_SUFFIXES).map(([s, e]) => [e, s]));
const BINARY_BY_EXPONENT = new Map(Object.entries(BINARY_SUFFIXES).map(([s, e]) => [e, s]));

function interpretSuffix(s: string): SuffixMeaning | undefined {
  if (Object.hasOwn(DECIMAL_SUFFIXES, s)) return { base: 10, exponent: DECIMAL_SUFFIXES[s], format: 'DecimalSI' };
  if (Object.hasOwn(BINARY_SUFFIXES, s)) return { base: 2, exponent: BINARY_SUFFIXES[s], format: 'BinarySI' };
  if (s.length > 1 && (s[0] === 'e' || s[0] === 'E')) {
    // Go's ParseInt: optional sign, then decimal digits only.
    if (!/^[+-]?[0-9]+$/.test(s.slice(1))) return undefined;
    const exp = Number(s.slice(1));
    // An exponent the int32 scale cannot hold is rejected rather than wrapped.
    if (!Number.isFinite(exp) || Math.abs(exp) > MAX_INT32) return undefined;
    return { base: 10, exponent: exp, format: 'DecimalExponent' };
  }
  return undefined;
}

function pow10(n: number): bigint {
  return 10n ** BigInt(n);
}

function abs(v: bigint): bigint {
  return v < 0n ? -v : v;
}

function digitCount(v: bigint): number {
  return abs(v).toString().length;
}

/** Rounds |unscaled|×10^scale up to `toScale` (>= scale); the sign is kept. Returns the new mantissa. */
function roundUpToScale(unscaled: bigint, scale: number, toScale: number): { value: bigint; exact: boolean } {
  if (toScale <= scale) return { value: unscaled * pow10(scale - toScale), exact: true };
  if (unscaled === 0n) return { value: 0n, exact: true };
  const shift = toScale - scale;
  const sign = unscaled < 0n ? -1n : 1n;
  const a = abs(unscaled);
  // Shifting past every digit leaves only the rounding unit; avoids 10^(huge).
  if (shift > digitCount(a)) return { value: sign, exact: false };
  const d = pow10(shift);
  const q = a / d;
  const exact = q * d === a;
  return { value: sign * (exact ? q : q + 1n), exact };
}

/**
 * Parses a quantity string with apimachinery's grammar: optional sign, digits
 * with an optional decimal point, then a binary suffix (Ki…Ei), a decimal SI
 * suffix (n u m "" k M G T P E) or a decimal exponent (e3, E-6). No whitespace.
 */
export function parseQuantity(str: string): Quantity {
  if (str.length === 0) throw new QuantityParseError(str, 'format');
  if (str === '0') return { unscaled: 0n, scale: 0, format: 'DecimalSI', cached: '0' };

  const scanned = scanQuantity(str);
  if (scanned === undefined) throw new QuantityParseError(str, 'format');
  const { positive, num, denom, suffix } = scanned;
  const meaning = interpretSuffix(suffix);
  if (meaning === undefined) throw new QuantityParseError(str, 'suffix');
  let format = meaning.format;

  // The exact value before rounding and capping.
  const digits = BigInt(num + denom);
  let unscaled: bigint;
  let scale: number;
  if (meaning.base === 10) {
    unscaled = digits;
    scale = meaning.exponent - denom.length;
  } else {
    unscaled = digits << BigInt(meaning.exponent);
    scale = -denom.length;
  }

  // apimachinery keeps the input string when its int64 fast path accepts the
  // number and the number is already written canonically.
  let cached: string | undefined;
  let precision: number;
  if (meaning.base === 10) {
    precision = 18 - (num.length + denom.length);
  } else if (denom.length === 0) {
    precision = 15 - num.length - Math.trunc((meaning.exponent * 3) / 10) - 1;
  } else {
    precision = -1;
  }
  const fastScale = (meaning.base === 10 ? meaning.exponent : 0) - denom.length;
  if (precision >= 0 && fastScale >= NANO) {
    const shifted = num + denom;
    if (meaning.base === 2) {
      if (meaning.exponent % 10 === 0 && (BigInt(shifted) & 7n) !== 0n) cached = str;
    } else if (fastScale % 3 === 0 && !shifted.endsWith('000') && shifted[0] !== '0') {
      cached = str;
    }
  }

  // Anything finer than a nano is rounded up, so asking for a tiny amount of a
  // resource still asks for some.
  if (scale < NANO) {
    unscaled = roundUpToScale(unscaled, scale, NANO).value;
    scale = NANO;
  }
  if (format === 'BinarySI') {
    const limit = MAX_INT64 * pow10(-scale);
    if (unscaled > limit) {
      unscaled = MAX_INT64;
      scale = 0;
    }
    // A binary value between 0 and 1 cannot be written with a binary suffix.
    if (unscaled !== 0n && unscaled < pow10(-scale)) format = 'DecimalSI';
  }
  if (!positive) unscaled = -unscaled;

  const q: Quantity = { unscaled, scale, format };
  return cached === undefined ? q : { ...q, cached };
}

/** A quantity from a JSON value the way apimachinery's UnmarshalJSON takes it: strings (trimmed) or numbers. */
export function quantityFromJSON(value: unknown): Quantity {
  if (typeof value === 'string') return parseQuantity(value.trim());
  if (typeof value === 'number' && Number.isFinite(value)) return parseQuantity(String(value));
  throw new QuantityParseError(typeof value === 'object' ? JSON.stringify(value) : String(value), 'format');
}

export function isValidQuantity(s: unknown): boolean {
  if (typeof s !== 'string') return false;
  try {
    parseQuantity(s);
    return true;
  } catch (err) {
    if (err instanceof QuantityParseError) return false;
    throw err;
  }
}

/** Moves factors of 10 into the exponent, then makes the exponent a multiple of 3. */
function canonicalDecimal(unscaled: bigint, scale: number): { mantissa: bigint; exponent: number } {
  let mantissa = unscaled;
  let exponent = scale;
  if (mantissa !== 0n) {
    // Strip trailing zeros in big steps first so 10^18-sized mantissas stay cheap.
    const s = mantissa.toString();
    const trailing = s.length - s.replace(/0+$/, '').length;
    if (trailing > 0) {
      mantissa /= pow10(trailing);
      exponent += trailing;
    }
  }
  const rem = ((exponent % 3) + 3) % 3;
  if (rem !== 0) {
    mantissa *= pow10(rem);
    exponent -= rem;
  }
  return { mantissa, exponent };
}

function formatDecimal(q: Quantity, format: 'DecimalSI' | 'DecimalExponent'): string {
  const { mantissa, exponent } = canonicalDecimal(q.unscaled, q.scale);
  if (format === 'DecimalSI') {
    const suffix = DECIMAL_BY_EXPONENT.get(exponent);
    if (suffix !== undefined) return `${mantissa}${suffix}`;
  }
  return exponent === 0 ? `${mantissa}` : `${mantissa}e${exponent}`;
}

/** The canonical string, exactly as apimachinery serialises the quantity. */
export function quantityString(q: Quantity): string {
  if (q.cached !== undefined) return q.cached;
  if (q.unscaled === 0n) return '0';
  if (q.format === 'BinarySI') {
    if (compareQuantities(q, { unscaled: -1024n, scale: 0, format: 'DecimalSI' }) > 0 &&
        compareQuantities(q, { unscaled: 1024n, scale: 0, format: 'DecimalSI' }) < 0) {
      return formatDecimal(q, 'DecimalSI');
    }
    const rounded = roundUpToScale(q.unscaled, q.scale, 0);
    if (!rounded.exact) return formatDecimal(q, 'DecimalSI');
    let mantissa = rounded.value;
    let exponent = 0;
    while (mantissa !== 0n && mantissa % 1024n === 0n) {
      mantissa /= 1024n;
      exponent += 10;
    }
    const suffix = exponent === 0 ? '' : BINARY_BY_EXPONENT.get(exponent);
    // Past Ei there is no binary suffix; fall back to an exact decimal form.
    if (suffix === undefined) return formatDecimal(q, 'DecimalExponent');
    return `${mantissa}${suffix}`;
  }
  return formatDecimal(q, q.format);
}

/** Parses and re-prints a quantity string in canonical form. Throws QuantityParseError. */
export function canonicalQuantity(s: string): string {
  return quantityString(parseQuantity(s));
}

/** Exact comparison: -1 when a < b, 0 when equal, 1 when a > b. */
export function compareQuantities(a: Quantity, b: Quantity): -1 | 0 | 1 {
  const sa = a.unscaled === 0n ? 0 : a.unscaled < 0n ? -1 : 1;
  const sb = b.unscaled === 0n ? 0 : b.unscaled < 0n ? -1 : 1;
  if (sa !== sb) return sa < sb ? -1 : 1;
  if (sa === 0) return 0;
  // Decide by order of magnitude first so wildly different exponents never
  // force a 10^huge alignment.
  const magA = digitCount(a.unscaled) + a.scale;
  const magB = digitCount(b.unscaled) + b.scale;
  if (magA !== magB) {
    const absCmp = magA < magB ? -1 : 1;
    return (sa > 0 ? absCmp : -absCmp) as -1 | 1;
  }
  const s = Math.min(a.scale, b.scale);
  const va = a.unscaled * pow10(a.scale - s);
  const vb = b.unscaled * pow10(b.scale - s);
  return va < vb ? -1 : va > vb ? 1 : 0;
}

export function quantitySign(q: Quantity): -1 | 0 | 1 {
  return q.unscaled === 0n ? 0 : q.unscaled < 0n ? -1 : 1;
}

export function isZeroQuantity(q: Quantity): boolean {
  return q.unscaled === 0n;
}

const MIN_INT64 = -(1n << 63n);

/**
 * ceil(q / 10^scale) away from zero, as apimachinery's ScaledValue. Exact within
 * the int64 range; beyond it the result saturates at the int64 bounds (Go's
 * accessors return int64 too), which also keeps `1e2147483647` cheap.
 */
export function quantityScaledValue(q: Quantity, scale: number): bigint {
  if (q.unscaled === 0n) return 0n;
  if (digitCount(q.unscaled) + q.scale - scale > 20) return q.unscaled < 0n ? MIN_INT64 : MAX_INT64;
  const v = roundUpToScale(q.unscaled, q.scale, scale).value;
  return v > MAX_INT64 ? MAX_INT64 : v < MIN_INT64 ? MIN_INT64 : v;
}

/** The value rounded up (away from zero) to a whole number, as Quantity.Value(). */
export function quantityToBigInt(q: Quantity): bigint {
  return quantityScaledValue(q, 0);
}

/** ceil(q × 1000), as Quantity.MilliValue(). */
export function quantityMilliValue(q: Quantity): bigint {
  return quantityScaledValue(q, -3);
}

/** An approximate float, for display and ratios only — never for comparisons. */
export function quantityToNumber(q: Quantity): number {
  return Number(q.unscaled) * 10 ** q.scale;
}

/** A quantity holding an integer value in the given format (like NewQuantity). */
export function newQuantity(value: bigint | number, format: QuantityFormat = 'DecimalSI'): Quantity {
  const v = typeof value === 'bigint' ? value : BigInt(value);
  return { unscaled: v, scale: 0, format };
}

/**
 * The canonical string for a quantity-typed JSON field (string or number), for
 * the API server's normalisation on write. Throws QuantityParseError.
 */
export function canonicalQuantityValue(value: unknown): string {
  return quantityString(quantityFromJSON(value));
}
