// @peculiar/x509 registers its algorithms through tsyringe, whose decorators
// refuse to load unless a Reflect metadata API exists. tsyringe only needs
// three functions, and only for its own bookkeeping, so this module provides
// them instead of pulling in a polyfill package. It must be imported before
// '@peculiar/x509' (see x509.ts); it changes nothing when a real polyfill is
// already installed.

type MetadataTarget = object;
type MetadataKey = unknown;

interface ReflectMetadataApi {
  defineMetadata?: (key: MetadataKey, value: unknown, target: MetadataTarget, property?: PropertyKey) => void;
  getOwnMetadata?: (key: MetadataKey, target: MetadataTarget, property?: PropertyKey) => unknown;
  getMetadata?: (key: MetadataKey, target: MetadataTarget, property?: PropertyKey) => unknown;
}

const reflect = Reflect as unknown as ReflectMetadataApi;

if (typeof reflect.getMetadata !== 'function') {
  // target → (property or '' for the target itself) → key → value
  const store = new WeakMap<MetadataTarget, Map<PropertyKey, Map<MetadataKey, unknown>>>();

  const own = (target: MetadataTarget, property: PropertyKey | undefined, create: boolean): Map<MetadataKey, unknown> | undefined => {
    let byProperty = store.get(target);
    if (byProperty === undefined) {
      if (!create) return undefined;
      byProperty = new Map();
      store.set(target, byProperty);
    }
    const slot = property ?? '';
    let values = byProperty.get(slot);
    if (values === undefined && create) {
      values = new Map();
      byProperty.set(slot, values);
    }
    return values;
  };

  reflect.defineMetadata = (key, value, target, property) => {
    own(target, property, true)!.set(key, value);
  };
  reflect.getOwnMetadata = (key, target, property) => own(target, property, false)?.get(key);
  reflect.getMetadata = (key, target, property) => {
    // Like the proposal: look up the prototype chain.
    for (let t: MetadataTarget | null = target; t !== null; t = Object.getPrototypeOf(t) as MetadataTarget | null) {
      const values = own(t, property, false);
      if (values?.has(key)) return values.get(key);
    }
    return undefined;
  };
}

export {};
