// Finds keys that appear twice in the same JSON object, which JSON.parse
// silently merges. With fieldValidation=Strict the apiserver refuses them
// (`strict decoding error: duplicate field "metadata.name"`), so we scan the
// raw text once, without building values.

/** Paths of duplicated keys in `text` (assumed to be valid JSON), in order of appearance. */
export function findDuplicateFields(text: string): string[] {
  const found: string[] = [];
  let i = 0;

  const skipWs = (): void => {
    while (i < text.length && (text[i] === ' ' || text[i] === '\n' || text[i] === '\r' || text[i] === '\t')) i++;
  };

  const readString = (): string => {
    // text[i] is the opening quote.
    const start = i;
    i++;
    while (i < text.length && text[i] !== '"') {
      if (text[i] === '\\') i++;
      i++;
    }
    i++;
    return JSON.parse(text.slice(start, i)) as string;
  };

  const join = (path: string, key: string): string => (path === '' ? key : `${path}.${key}`);

  const value = (path: string): void => {
    skipWs();
    const c = text[i];
    if (c === '{') {
      i++;
      const seen = new Set<string>();
      skipWs();
      if (text[i] === '}') {
        i++;
        return;
      }
      for (;;) {
        skipWs();
        const key = readString();
        const keyPath = join(path, key);
        if (seen.has(key)) found.push(keyPath);
        seen.add(key);
        skipWs();
        i++; // ':'
        value(keyPath);
        skipWs();
        if (text[i] === ',') {
          i++;
          continue;
        }
        i++; // '}'
        return;
      }
    }
    if (c === '[') {
      i++;
      skipWs();
      if (text[i] === ']') {
        i++;
        return;
      }
      for (let index = 0; ; index++) {
        value(`${path}[${index}]`);
        skipWs();
        if (text[i] === ',') {
          i++;
          continue;
        }
        i++; // ']'
        return;
      }
    }
    if (c === '"') {
      readString();
      return;
    }
    // number, true, false, null
    while (i < text.length && !',}] \n\r\t'.includes(text[i])) i++;
  };

  value('');
  return found;
}
