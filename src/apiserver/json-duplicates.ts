// Finds keys that appear twice in the same JSON object, which JSON.parse
// silently merges. With fieldValidation=Strict the apiserver refuses them
// (`strict decoding error: duplicate field "metadata.name"`), so we scan the
// raw text once, without building values.
//
// Every request body with a strict field validation goes through here, so the
// scan is kept cheap: it walks char codes, slices a key out of the text
// directly unless it holds an escape (only those go through JSON.parse), keeps
// the path as a stack of segments and joins it into a string only for a
// duplicate, and remembers the keys of small objects in an array (most
// Kubernetes objects have a handful of keys per level), switching to a Set
// for wide ones such as labels, annotations or a ConfigMap's data.

const QUOTE = 0x22; // "
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const COMMA = 0x2c;
const SPACE = 0x20;
const TAB = 0x09;
const LF = 0x0a;
const CR = 0x0d;

/** Up to this many keys an object's keys are searched linearly; beyond, a Set takes over. */
const LINEAR_KEYS = 16;

/** Paths of duplicated keys in `text` (assumed to be valid JSON), in order of appearance. */
export function findDuplicateFields(text: string): string[] {
  const found: string[] = [];
  const n = text.length;
  let i = 0;
  // The path to the value being scanned: object keys and array indices.
  const segments: (string | number)[] = [];

  const skipWs = (): void => {
    for (;;) {
      const c = text.charCodeAt(i);
      if (c !== SPACE && c !== LF && c !== CR && c !== TAB) return;
      i++;
    }
  };

  /** Skips the string starting at text[i] (the opening quote); returns whether it holds an escape. */
  const skipString = (): boolean => {
    let escaped = false;
    i++;
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c === QUOTE) break;
      if (c === BACKSLASH) {
        escaped = true;
        i++;
      }
      i++;
    }
    i++;
    return escaped;
  };

  const readKey = (): string => {
    const start = i;
    const escaped = skipString();
    return escaped ? (JSON.parse(text.slice(start, i)) as string) : text.slice(start + 1, i - 1);
  };

  const pathOf = (): string => {
    let path = '';
    for (const s of segments) {
      if (typeof s === 'number') path += `[${s}]`;
      else path = path === '' ? s : `${path}.${s}`;
    }
    return path;
  };

  const value = (): void => {
    skipWs();
    const c = text.charCodeAt(i);
    if (c === OPEN_BRACE) {
      i++;
      skipWs();
      if (text.charCodeAt(i) === CLOSE_BRACE) {
        i++;
        return;
      }
      let keys: string[] | undefined = [];
      let wide: Set<string> | undefined;
      for (;;) {
        skipWs();
        const key = readKey();
        let duplicate: boolean;
        if (keys !== undefined) {
          duplicate = keys.includes(key);
          if (!duplicate) {
            keys.push(key);
            if (keys.length > LINEAR_KEYS) {
              wide = new Set(keys);
              keys = undefined;
            }
          }
        } else {
          const set = wide as Set<string>;
          duplicate = set.has(key);
          if (!duplicate) set.add(key);
        }
        segments.push(key);
        if (duplicate) found.push(pathOf());
        skipWs();
        i++; // ':'
        value();
        segments.pop();
        skipWs();
        if (text.charCodeAt(i) === COMMA) {
          i++;
          continue;
        }
        i++; // '}'
        return;
      }
    }
    if (c === OPEN_BRACKET) {
      i++;
      skipWs();
      if (text.charCodeAt(i) === CLOSE_BRACKET) {
        i++;
        return;
      }
      for (let index = 0; ; index++) {
        segments.push(index);
        value();
        segments.pop();
        skipWs();
        if (text.charCodeAt(i) === COMMA) {
          i++;
          continue;
        }
        i++; // ']'
        return;
      }
    }
    if (c === QUOTE) {
      skipString();
      return;
    }
    // number, true, false, null
    while (i < n) {
      const d = text.charCodeAt(i);
      if (d === COMMA || d === CLOSE_BRACE || d === CLOSE_BRACKET || d === SPACE || d === LF || d === CR || d === TAB) return;
      i++;
    }
  };

  value();
  return found;
}
