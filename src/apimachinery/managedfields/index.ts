// Server-side apply and managedFields (structured-merge-diff, in our own code):
// field sets and their FieldsV1 form, the structure-aware compare/merge/prune
// over objects, the managers of an object, and the FieldManager the API server
// runs on every write.

export {
  FieldSet,
  FieldsV1Error,
  canonicalJson,
  compareValues,
  comparePathElements,
  fieldElement,
  keyElement,
  valueElement,
  parsePathElement,
  serializePathElement,
  pathString,
} from './field-set.ts';
export type { Path, PathElement } from './field-set.ts';
export { compare, listTypeOf, merge, prune, toFieldSet, dropNulls } from './structure.ts';
export type { Comparison, ListType } from './structure.ts';
export {
  FIELD_MANAGER_MAX_LENGTH,
  MAX_UPDATE_MANAGERS,
  ManagedFieldsDecodeError,
  capUpdateManagers,
  decodeManagedFields,
  encodeManagedFields,
  isPrintable,
  managerFromUserAgent,
  managerKey,
  newApplyConflict,
  printManager,
} from './managers.ts';
export type { Conflict, Managed, ManagerEntry, ManagerId, Operation } from './managers.ts';
export { FieldManager, LAST_APPLIED_ANNOTATION } from './field-manager.ts';
export type { FieldManagerOptions } from './field-manager.ts';
