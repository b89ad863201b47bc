// Label selectors: the `-l` string grammar, metav1.LabelSelector objects, and
// matching, following k8s.io/apimachinery/pkg/labels.
//
// The parser is a port of apimachinery's lexer/parser shape (tokens, a
// "values" context in which `in`/`notin` are plain identifiers, requirements
// sorted by key afterwards) because its error texts reach the user verbatim
// in 400 answers: `unable to parse requirement: found '', expected: '('`.
// A selector is a list of requirements that must all hold; an empty list
// selects everything, while a nil metav1.LabelSelector selects nothing.

import { fieldErrors, newBadRequest, type FieldError } from './errors.ts';
import { isQualifiedName, isValidLabelValue, validateLabels } from './validation.ts';

export { validateAnnotations, validateLabels, TOTAL_ANNOTATION_SIZE_LIMIT_B } from './validation.ts';

/** selection.Operator values, in apimachinery's spelling. */
export type LabelOperator = 'in' | 'notin' | '=' | '==' | '!=' | 'exists' | '!' | 'gt' | 'lt';

export interface LabelRequirement {
  key: string;
  operator: LabelOperator;
  /** Empty for exists/!; one value for =, ==, !=, gt, lt; one or more for in/notin. */
  values: string[];
}

export interface LabelSelector {
  /** ANDed, sorted by key. */
  readonly requirements: readonly LabelRequirement[];
  /** True for the selector of a nil metav1.LabelSelector: it matches no object. */
  readonly matchesNothing?: boolean;
}

/** metav1.LabelSelectorRequirement */
export interface LabelSelectorRequirementObject {
  key: string;
  operator: string;
  values?: string[];
}

/** metav1.LabelSelector */
export interface LabelSelectorObject {
  matchLabels?: Record<string, string>;
  matchExpressions?: LabelSelectorRequirementObject[];
}

export const EVERYTHING: LabelSelector = Object.freeze({ requirements: Object.freeze([]) });
export const NOTHING: LabelSelector = Object.freeze({ requirements: Object.freeze([]), matchesNothing: true });

// ---------------------------------------------------------------- requirements

function fieldErrorText(field: string, value: string, detail: string): string {
  return `${field}: Invalid value: ${goQuote(value)}: ${detail}`;
}

/** Go's %q for the printable strings selectors carry. */
function goQuote(s: string): string {
  return JSON.stringify(s);
}

/** field.ErrorList.ToAggregate().Error(): duplicates dropped, several wrapped in brackets. */
function aggregate(messages: string[]): string {
  const unique = [...new Set(messages)];
  return unique.length === 1 ? unique[0] : `[${unique.join(', ')}]`;
}

/** The message for an invalid label key in a selector (apimachinery reports it at a nil path). */
function labelKeyError(key: string, path: string): string | undefined {
  const errs = isQualifiedName(key);
  return errs.length === 0 ? undefined : fieldErrorText(path, key, errs.join('; '));
}

const INT64_RE = /^[+-]?[0-9]+$/;
const MIN_INT64 = -(1n << 63n);
const MAX_INT64 = (1n << 63n) - 1n;

function parseInt64(s: string): bigint | undefined {
  if (!INT64_RE.test(s)) return undefined;
  const v = BigInt(s);
  return v < MIN_INT64 || v > MAX_INT64 ? undefined : v;
}

/**
 * labels.NewRequirement: validates the key, the value count for the operator
 * and every value. Throws a 400 StatusError with apimachinery's message.
 */
export function newRequirement(key: string, operator: LabelOperator, values: string[], path = '<nil>'): LabelRequirement {
  const errs: string[] = [];
  const keyErr = labelKeyError(key, path === '<nil>' ? 'key' : `${path}.key`);
  if (keyErr !== undefined) errs.push(keyErr);
  const valuePath = path === '<nil>' ? 'values' : `${path}.values`;
  const goSlice = `[]string{${values.map(goQuote).join(', ')}}`;
  switch (operator) {
    case 'in':
    case 'notin':
      if (values.length === 0) errs.push(`${valuePath}: Invalid value: ${goSlice}: for 'in', 'notin' operators, values set can't be empty`);
      break;
    case '=':
    case '==':
    case '!=':
      if (values.length !== 1) errs.push(`${valuePath}: Invalid value: ${goSlice}: exact-match compatibility requires one single value`);
      break;
    case 'exists':
    case '!':
      if (values.length !== 0) errs.push(`${valuePath}: Invalid value: ${goSlice}: values set must be empty for exists and does not exist`);
      break;
    case 'gt':
    case 'lt':
      if (values.length !== 1) errs.push(`${valuePath}: Invalid value: ${goSlice}: for 'Gt', 'Lt' operators, exactly one value is required`);
      values.forEach((v, i) => {
        if (parseInt64(v) === undefined) {
          errs.push(fieldErrorText(`${valuePath}[${i}]`, v, "for 'Gt', 'Lt' operators, the value must be an integer"));
        }
      });
      break;
    default:
      errs.push(
        `${path === '<nil>' ? 'operator' : `${path}.operator`}: Unsupported value: ${goQuote(String(operator))}: supported values: "in", "notin", "=", "==", "!=", "gt", "lt", "exists", "!"`,
      );
  }
  values.forEach((v, i) => {
    const msgs = isValidLabelValue(v);
    if (msgs.length > 0) errs.push(fieldErrorText(`${valuePath}[${i}][${key}]`, v, msgs.join('; ')));
  });
  if (errs.length > 0) throw newBadRequest(aggregate(errs));
  return { key, operator, values: [...values] };
}

function hasValue(r: LabelRequirement, value: string): boolean {
  return r.values.includes(value);
}

/** Requirement.Matches */
export function requirementMatches(r: LabelRequirement, labels: Record<string, string> | undefined): boolean {
  const has = labels !== undefined && labels !== null && Object.hasOwn(labels, r.key);
  const value = has ? labels[r.key] : undefined;
  switch (r.operator) {
    case 'in':
    case '=':
    case '==':
      return has && hasValue(r, value as string);
    case 'notin':
    case '!=':
      return !has || !hasValue(r, value as string);
    case 'exists':
      return has;
    case '!':
      return !has;
    case 'gt':
    case 'lt': {
      if (!has || r.values.length !== 1) return false;
      const lhs = parseInt64(value as string);
      const rhs = parseInt64(r.values[0]);
      if (lhs === undefined || rhs === undefined) return false;
      return r.operator === 'gt' ? lhs > rhs : lhs < rhs;
    }
    default:
      return false;
  }
}

/** Whether every requirement holds. An empty selector matches everything, NOTHING matches nothing. */
export function matches(sel: LabelSelector, labels: Record<string, string> | undefined): boolean {
  if (sel.matchesNothing) return false;
  return sel.requirements.every((r) => requirementMatches(r, labels));
}

export function isEmptySelector(sel: LabelSelector): boolean {
  return !sel.matchesNothing && sel.requirements.length === 0;
}

/** Requirement.String(): values sorted, `in`/`notin` with parentheses. */
export function requirementString(r: LabelRequirement): string {
  const prefix = r.operator === '!' ? '!' : '';
  let op: string;
  switch (r.operator) {
    case 'exists':
    case '!':
      return `${prefix}${r.key}`;
    case 'in':
      op = ' in ';
      break;
    case 'notin':
      op = ' notin ';
      break;
    case 'gt':
      op = '>';
      break;
    case 'lt':
      op = '<';
      break;
    default:
      op = r.operator;
  }
  const values = r.values.length === 1 ? r.values[0] : [...r.values].sort(compareStrings).join(',');
  return r.operator === 'in' || r.operator === 'notin' ? `${r.key}${op}(${values})` : `${r.key}${op}${values}`;
}

/** The selector as apimachinery prints it: requirements joined by ','; '' for everything and nothing. */
export function labelSelectorString(sel: LabelSelector): string {
  if (sel.matchesNothing) return '';
  return sel.requirements.map(requirementString).join(',');
}

/** Go compares strings bytewise; for the ASCII of label keys that is code-unit order. */
function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function sortByKey(reqs: LabelRequirement[]): LabelRequirement[] {
  return [...reqs].sort((a, b) => compareStrings(a.key, b.key));
}

// ---------------------------------------------------------------- lexer

type Token =
  | 'error'
  | 'end'
  | 'closedPar'
  | 'comma'
  | 'doesNotExist'
  | 'doubleEquals'
  | 'equals'
  | 'greaterThan'
  | 'identifier'
  | 'in'
  | 'lessThan'
  | 'notEquals'
  | 'notIn'
  | 'openPar';

const STRING_TO_TOKEN: Record<string, Token> = {
  ')': 'closedPar',
  ',': 'comma',
  '!': 'doesNotExist',
  '==': 'doubleEquals',
  '=': 'equals',
  '>': 'greaterThan',
  in: 'in',
  '<': 'lessThan',
  '!=': 'notEquals',
  notin: 'notIn',
  '(': 'openPar',
};

function tokenFor(s: string): Token | undefined {
  return Object.hasOwn(STRING_TO_TOKEN, s) ? STRING_TO_TOKEN[s] : undefined;
}

interface Item {
  tok: Token;
  lit: string;
}

function isWhitespace(c: string): boolean {
  return c === ' ' || c === '\t' || c === '\r' || c === '\n';
}

function isSpecialSymbol(c: string): boolean {
  return c === '=' || c === '!' || c === '(' || c === ')' || c === ',' || c === '>' || c === '<';
}

// A NUL character ends the input, as it does for apimachinery's byte lexer.
const EOF = '\0';

class Lexer {
  readonly #s: string;
  #pos = 0;

  constructor(s: string) {
    this.#s = s;
  }

  #read(): string {
    if (this.#pos < this.#s.length) return this.#s[this.#pos++];
    return EOF;
  }

  #unread(): void {
    this.#pos--;
  }

  #scanIdOrKeyword(): Item {
    let buffer = '';
    for (;;) {
      const ch = this.#read();
      if (ch === EOF) break;
      if (isSpecialSymbol(ch) || isWhitespace(ch)) {
        this.#unread();
        break;
      }
      buffer += ch;
    }
    const tok = tokenFor(buffer);
    return tok !== undefined ? { tok, lit: buffer } : { tok: 'identifier', lit: buffer };
  }

  #scanSpecialSymbol(): Item {
    let last: Item | undefined;
    let buffer = '';
    for (;;) {
      const ch = this.#read();
      if (ch === EOF) break;
      if (!isSpecialSymbol(ch)) {
        this.#unread();
        break;
      }
      buffer += ch;
      const tok = tokenFor(buffer);
      if (tok !== undefined) {
        last = { tok, lit: buffer };
      } else if (last !== undefined) {
        this.#unread();
        break;
      }
    }
    if (last === undefined) return { tok: 'error', lit: `error expected: keyword found '${buffer}'` };
    return last;
  }

  lex(): Item {
    let ch = this.#read();
    while (isWhitespace(ch)) ch = this.#read();
    if (ch === EOF) return { tok: 'end', lit: '' };
    this.#unread();
    return isSpecialSymbol(ch) ? this.#scanSpecialSymbol() : this.#scanIdOrKeyword();
  }
}

// ---------------------------------------------------------------- parser

class SelectorSyntaxError extends Error {
  override readonly name = 'SelectorSyntaxError';
}

const BINARY_OPERATORS = 'in, notin, =, ==, !=, gt, lt';

class Parser {
  readonly #items: Item[] = [];
  #position = 0;

  constructor(selector: string) {
    const lexer = new Lexer(selector);
    for (;;) {
      const item = lexer.lex();
      this.#items.push(item);
      if (item.tok === 'end') break;
    }
  }

  // In the values context `in` and `notin` are ordinary identifiers (`a in (in)`).
  #lookahead(values: boolean): Item {
    const item = this.#items[this.#position];
    return values && (item.tok === 'in' || item.tok === 'notIn') ? { tok: 'identifier', lit: item.lit } : item;
  }

  #consume(values: boolean): Item {
    const item = this.#lookahead(values);
    this.#position++;
    return item;
  }

  parse(): LabelRequirement[] {
    const requirements: LabelRequirement[] = [];
    for (;;) {
      const { tok, lit } = this.#lookahead(true);
      switch (tok) {
        case 'identifier':
        case 'doesNotExist': {
          let r: LabelRequirement;
          try {
            r = this.#parseRequirement();
          } catch (err) {
            const message = err instanceof Error ? err.message : String(err);
            throw new SelectorSyntaxError(`unable to parse requirement: ${message}`);
          }
          requirements.push(r);
          const next = this.#consume(true);
          switch (next.tok) {
            case 'end':
              return requirements;
            case 'comma': {
              const after = this.#lookahead(true);
              if (after.tok !== 'identifier' && after.tok !== 'doesNotExist') {
                throw new SelectorSyntaxError(`found '${after.lit}', expected: identifier after ','`);
              }
              break;
            }
            default:
              throw new SelectorSyntaxError(`found '${next.lit}', expected: ',' or 'end of string'`);
          }
          break;
        }
        case 'end':
          return requirements;
        default:
          throw new SelectorSyntaxError(`found '${lit}', expected: !, identifier, or 'end of string'`);
      }
    }
  }

  #parseRequirement(): LabelRequirement {
    const { key, operator } = this.#parseKeyAndInferOperator();
    if (operator === 'exists' || operator === '!') return newRequirement(key, operator, []);
    const op = this.#parseOperator();
    const values = op === 'in' || op === 'notin' ? this.#parseValues() : this.#parseExactValue();
    // sets.String.List(): unique and sorted.
    return newRequirement(key, op, [...values].sort(compareStrings));
  }

  #parseKeyAndInferOperator(): { key: string; operator: LabelOperator | '' } {
    let operator: LabelOperator | '' = '';
    let item = this.#consume(true);
    if (item.tok === 'doesNotExist') {
      operator = '!';
      item = this.#consume(true);
    }
    if (item.tok !== 'identifier') throw new SelectorSyntaxError(`found '${item.lit}', expected: identifier`);
    const keyErr = labelKeyError(item.lit, '<nil>');
    if (keyErr !== undefined) throw new SelectorSyntaxError(keyErr);
    const next = this.#lookahead(true).tok;
    if ((next === 'end' || next === 'comma') && operator !== '!') operator = 'exists';
    return { key: item.lit, operator };
  }

  #parseOperator(): LabelOperator {
    const { tok, lit } = this.#consume(false);
    switch (tok) {
      case 'in':
        return 'in';
      case 'equals':
        return '=';
      case 'doubleEquals':
        return '==';
      case 'greaterThan':
        return 'gt';
      case 'lessThan':
        return 'lt';
      case 'notIn':
        return 'notin';
      case 'notEquals':
        return '!=';
      default:
        throw new SelectorSyntaxError(`found '${lit}', expected: ${BINARY_OPERATORS}`);
    }
  }

  #parseValues(): Set<string> {
    const open = this.#consume(true);
    if (open.tok !== 'openPar') throw new SelectorSyntaxError(`found '${open.lit}' expected: '('`);
    const { tok, lit } = this.#lookahead(true);
    switch (tok) {
      case 'identifier':
      case 'comma': {
        const s = this.#parseIdentifiersList();
        // apimachinery reports the token seen before the list, not the one found.
        if (this.#consume(true).tok !== 'closedPar') throw new SelectorSyntaxError(`found '${lit}', expected: ')'`);
        return s;
      }
      case 'closedPar':
        this.#consume(true);
        return new Set(['']);
      default:
        throw new SelectorSyntaxError(`found '${lit}', expected: ',', ')' or identifier`);
    }
  }

  #parseIdentifiersList(): Set<string> {
    const s = new Set<string>();
    for (;;) {
      const { tok, lit } = this.#consume(true);
      switch (tok) {
        case 'identifier': {
          s.add(lit);
          const next = this.#lookahead(true);
          if (next.tok === 'comma') continue;
          if (next.tok === 'closedPar') return s;
          throw new SelectorSyntaxError(`found '${next.lit}', expected: ',' or ')'`);
        }
        case 'comma': {
          // `(,a)`, `(a,)` and `(a,,b)` all contain the empty value.
          if (s.size === 0) s.add('');
          const next = this.#lookahead(true).tok;
          if (next === 'closedPar') {
            s.add('');
            return s;
          }
          if (next === 'comma') s.add('');
          break;
        }
        default:
          throw new SelectorSyntaxError(`found '${lit}', expected: ',', or identifier`);
      }
    }
  }

  #parseExactValue(): Set<string> {
    const next = this.#lookahead(true).tok;
    if (next === 'end' || next === 'comma') return new Set(['']);
    const { tok, lit } = this.#consume(true);
    if (tok === 'identifier') return new Set([lit]);
    throw new SelectorSyntaxError(`found '${lit}', expected: identifier`);
  }
}

/**
 * Parses a label selector string (`app=nginx,tier in (a,b),!legacy`).
 * Throws a 400 BadRequest StatusError carrying apimachinery's message.
 */
export function parseLabelSelector(s: string): LabelSelector {
  let reqs: LabelRequirement[];
  try {
    reqs = new Parser(s).parse();
  } catch (err) {
    if (err instanceof SelectorSyntaxError) throw newBadRequest(err.message);
    // newRequirement throws StatusErrors; inside a requirement they were wrapped above.
    throw err;
  }
  return { requirements: sortByKey(reqs) };
}

// ---------------------------------------------------------------- metav1.LabelSelector

const OPERATOR_FROM_OBJECT: Record<string, LabelOperator> = {
  In: 'in',
  NotIn: 'notin',
  Exists: 'exists',
  DoesNotExist: '!',
};

/**
 * metav1.LabelSelectorAsSelector: a nil selector selects nothing, an empty one
 * everything. matchLabels become `=` requirements. Throws a 400 StatusError for
 * an unknown operator or invalid keys/values.
 */
export function labelSelectorFromObject(obj: LabelSelectorObject | null | undefined): LabelSelector {
  if (obj === null || obj === undefined) return NOTHING;
  const matchLabels = obj.matchLabels ?? {};
  const expressions = obj.matchExpressions ?? [];
  if (Object.keys(matchLabels).length + expressions.length === 0) return EVERYTHING;
  const reqs: LabelRequirement[] = [];
  for (const [k, v] of Object.entries(matchLabels)) reqs.push(newRequirement(k, '=', [v]));
  for (const expr of expressions) {
    const op = Object.hasOwn(OPERATOR_FROM_OBJECT, expr.operator) ? OPERATOR_FROM_OBJECT[expr.operator] : undefined;
    if (op === undefined) throw newBadRequest(`${goQuote(String(expr.operator))} is not a valid label selector operator`);
    reqs.push(newRequirement(expr.key, op, [...(expr.values ?? [])]));
  }
  return { requirements: sortByKey(reqs) };
}

/**
 * metav1.FormatLabelSelector: the form kubectl and the apiserver print
 * (`app=nginx`, `tier in (a,b)`), `<none>` when it selects everything or
 * nothing, `<error>` when it is invalid.
 */
export function formatLabelSelector(obj: LabelSelectorObject | null | undefined): string {
  let sel: LabelSelector;
  try {
    sel = labelSelectorFromObject(obj);
  } catch {
    return '<error>';
  }
  const s = labelSelectorString(sel);
  return s.length === 0 ? '<none>' : s;
}

/** A selector matching exactly the given labels (labels.SelectorFromSet). */
export function selectorFromSet(set: Record<string, string> | undefined): LabelSelector {
  if (set === undefined || set === null) return EVERYTHING;
  const reqs = Object.entries(set).map(([key, value]): LabelRequirement => ({ key, operator: '=', values: [value] }));
  return { requirements: sortByKey(reqs) };
}

/** metav1 validation of a LabelSelector inside an object (for API validation), with its messages. */
export function validateLabelSelectorObject(obj: LabelSelectorObject | null | undefined, fieldPath: string): FieldError[] {
  const errs: FieldError[] = [];
  if (obj === undefined || obj === null) return errs;
  errs.push(...validateLabels(obj.matchLabels, `${fieldPath}.matchLabels`));
  (obj.matchExpressions ?? []).forEach((expr, i) => {
    const p = `${fieldPath}.matchExpressions[${i}]`;
    const values = expr.values ?? [];
    switch (expr.operator) {
      case 'In':
      case 'NotIn':
        if (values.length === 0) errs.push(fieldErrors.required(`${p}.values`, "must be specified when `operator` is 'In' or 'NotIn'"));
        break;
      case 'Exists':
      case 'DoesNotExist':
        if (values.length > 0) errs.push(fieldErrors.forbidden(`${p}.values`, "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"));
        break;
      default:
        errs.push(fieldErrors.invalid(`${p}.operator`, expr.operator, 'not a valid selector operator'));
    }
    for (const msg of isQualifiedName(expr.key)) errs.push(fieldErrors.invalid(`${p}.key`, expr.key, msg));
    values.forEach((v, j) => {
      for (const msg of isValidLabelValue(v)) errs.push(fieldErrors.invalid(`${p}.values[${j}]`, v, msg));
    });
  });
  return errs;
}
