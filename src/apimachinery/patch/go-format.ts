// How Go's fmt and reflect print decoded JSON values. The apiserver's patch
// errors embed values formatted this way (`map: map[image:nginx] does not
// contain declared merge key: name`), and kubectl shows them to users, so we
// reproduce the formatting instead of using JSON.stringify.
//
// Decoded JSON in the apiserver holds int64 for integral numbers and float64
// for the rest; we cannot tell `1` from `1.0` after JSON.parse, so every
// integral number counts as int64.

import { isPlainObject } from '../types.ts';

/** reflect.TypeOf(v).String() for a value decoded from JSON. */
export function goTypeName(v: unknown): string {
  if (v === null || v === undefined) return '<nil>';
  if (typeof v === 'string') return 'string';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int64' : 'float64';
  if (Array.isArray(v)) return '[]interface {}';
  return 'map[string]interface {}';
}

/** The JSON type name encoding/json uses in "cannot unmarshal X into ..." errors. */
export function jsonTypeName(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'string') return 'string';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'number') return 'number';
  if (Array.isArray(v)) return 'array';
  return 'object';
}

/** fmt's %v: maps print as `map[k:v ...]` with sorted keys, slices as `[a b]`. */
export function goValue(v: unknown): string {
  if (v === null || v === undefined) return '<nil>';
  if (typeof v === 'string') return v;
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'number') return goNumber(v);
  if (Array.isArray(v)) return `[${v.map(goValue).join(' ')}]`;
  if (isPlainObject(v)) {
    const keys = Object.keys(v).sort();
    return `map[${keys.map((k) => `${k}:${goValue(v[k])}`).join(' ')}]`;
  }
  return String(v);
}

/** fmt's %s: strings as they are, anything else flagged the way fmt flags a bad verb. */
export function goStringVerb(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v === null || v === undefined) return '%!s(<nil>)';
  return `%!s(${goTypeName(v)}=${goValue(v)})`;
}

function goNumber(n: number): string {
  if (Number.isInteger(n)) return n.toString();
  // float64 under %v is strconv 'g' with the shortest digits; exponent form
  // from 1e-5 downwards and from 1e+06 upwards (JavaScript switches at 1e21).
  const [mantissa, expText] = n.toExponential().split('e');
  const exp = Number(expText);
  if (exp < -4 || exp >= 6) {
    const sign = exp < 0 ? '-' : '+';
    const digits = String(Math.abs(exp)).padStart(2, '0');
    return `${mantissa}e${sign}${digits}`;
  }
  return n.toString();
}

/** The error strconv.Atoi returns, as Go prints it. */
export function atoiError(s: string): string {
  return `strconv.Atoi: parsing ${JSON.stringify(s)}: invalid syntax`;
}

/**
 * strconv.Atoi: an optional sign and decimal digits, nothing else. Returns the
 * number, or the error text Go would produce.
 */
export function goAtoi(s: string): { ok: true; value: number } | { ok: false; error: string } {
  if (!/^[+-]?[0-9]+$/.test(s)) return { ok: false, error: atoiError(s) };
  const value = Number(s);
  // int is 64 bits on the platforms the apiserver runs on.
  if (!Number.isSafeInteger(value)) {
    return { ok: false, error: `strconv.Atoi: parsing ${JSON.stringify(s)}: value out of range` };
  }
  return { ok: true, value };
}

/**
 * Go's `==` on two interface values holding decoded JSON: same dynamic type
 * and value. Maps and slices are not comparable in Go (the comparison would
 * panic); we report them unequal.
 */
export function goEqual(a: unknown, b: unknown): boolean {
  const na = a === undefined ? null : a;
  const nb = b === undefined ? null : b;
  if (typeof na === 'object' && na !== null) return false;
  if (typeof nb === 'object' && nb !== null) return false;
  return na === nb;
}
