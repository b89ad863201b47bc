// PV ↔ PVC matching, shared by the PV controller and the scheduler's volume
// binding (design.md: what two components share lives in api/).
//
// The rules are upstream's FindMatchingVolume / checkVolumeSatisfyClaim:
// a volume fits a claim when it is at least as large as the request, has the
// same volumeMode, offers every requested access mode and is not being
// deleted. A volume pre-bound to the claim (claimRef naming it, with its uid
// or no uid) wins outright, whatever its class, labels or phase. Otherwise
// only Available volumes without a claimRef and of the claim's class count;
// the claim's label selector must match, and node affinity is checked when a
// node is known (the scheduler's path, or a claim with a selected node). Of
// those, the smallest wins. Upstream groups volumes by access-mode set and
// takes the first group, fewest modes first, that has a fit; so do we.
//
// Upstream scans every volume of a group per claim. VolumeIndex instead keeps
// the available volumes of each (class, volumeMode, access-mode set) sorted
// by capacity, so a claim finds its first fitting capacity by binary search:
// O(log n) when nothing but size narrows the choice, and a scan upward from
// there when a selector or node affinity rejects candidates. Pre-bound
// volumes are found through a claim → volumes map. `comparisons` counts the
// volumes looked at, so tests can show the index at work without timing it.
//
// Keeping a group in order: an insert at its end is a push; any other insert
// into a small group is spliced in place; into a large one it waits in an
// unsorted `pending` list (a bulk load out of order would otherwise cost a
// memmove per volume) that the next lookup merges — one by one when few are
// waiting, by one sort when many are. A removal never sorts: the entry knows
// whether it is pending. (Sorting the whole group on every removal made each
// update O(n log n) once a group was unsorted, and binding 20,000 volumes
// quadratic.) `orderingComparisons` counts that work.
//
// Reservations: the PV controller binds with several claim workers, and a
// volume it chose stays Available in this index until its first write (the
// claimRef) comes back. reserve() closes that window: a volume reserved for
// one claim is skipped when matching any other, until release(). Reserved
// volumes stay in their group (a put() while reserved needs no special
// case), so a lookup steps over at most one entry per worker in flight; the
// index stays the only place that decides, synchronously, who gets what.

import type { LabelSelector } from '../../apimachinery/labels.ts';
import { labelSelectorFromObject, matches } from '../../apimachinery/labels.ts';
import { quantityFromJSON, quantityMilliValue } from '../../apimachinery/quantity.ts';
import { persistentVolumeClaimClass } from './persistent-volume-claim.ts';
import { persistentVolumeClass } from './persistent-volume.ts';
import type {
  NodeSelectorRequirement,
  PersistentVolume,
  PersistentVolumeAccessMode,
  PersistentVolumeClaim,
  PersistentVolumeMode,
} from './volume-types.ts';

// ---------------------------------------------------------------------------
// Single-volume checks

/** A storage quantity in milli-units; absent or unparsable counts as 0. */
export function storageMilli(value: string | undefined): bigint {
  if (value === undefined) return 0n;
  try {
    return quantityMilliValue(quantityFromJSON(value));
  } catch {
    return 0n;
  }
}

export function volumeCapacity(pv: PersistentVolume): bigint {
  return storageMilli(pv.spec.capacity?.storage);
}

export function claimRequest(pvc: PersistentVolumeClaim): bigint {
  return storageMilli(pvc.spec.resources?.requests?.storage);
}

/** GetPersistentVolumeClass. */
export function volumeClass(pv: PersistentVolume): string {
  return persistentVolumeClass(pv);
}

/** GetPersistentVolumeClaimClass: '' for both "no class" and an unset class. */
export function claimClass(pvc: PersistentVolumeClaim): string {
  return persistentVolumeClaimClass(pvc);
}

function volumeModeOf(mode: PersistentVolumeMode | undefined): PersistentVolumeMode {
  return mode ?? 'Filesystem';
}

/** CheckVolumeModeMismatches: an unset mode is Filesystem on both sides. */
export function volumeModeMismatch(pvc: PersistentVolumeClaim, pv: PersistentVolume): boolean {
  return volumeModeOf(pvc.spec.volumeMode) !== volumeModeOf(pv.spec.volumeMode);
}

/** CheckAccessModes: the volume offers every mode the claim asks for. */
export function checkAccessModes(pvc: PersistentVolumeClaim, pv: PersistentVolume): boolean {
  const offered = new Set(pv.spec.accessModes ?? []);
  return (pvc.spec.accessModes ?? []).every((m) => offered.has(m));
}

/** IsVolumeBoundToClaim: claimRef names the claim, and its uid is unset or the claim's. */
export function isVolumeBoundToClaim(pv: PersistentVolume, pvc: PersistentVolumeClaim): boolean {
  const ref = pv.spec.claimRef;
  if (ref === undefined || ref === null) return false;
  if (ref.name !== pvc.metadata.name || (ref.namespace ?? '') !== (pvc.metadata.namespace ?? '')) return false;
  return ref.uid === undefined || ref.uid === '' || ref.uid === pvc.metadata.uid;
}

/**
 * checkVolumeSatisfyClaim, for a claim that names the volume: undefined when
 * it fits, else upstream's reason (shown in the VolumeMismatch event).
 */
export function checkVolumeSatisfyClaim(pv: PersistentVolume, pvc: PersistentVolumeClaim): string | undefined {
  if (pv.metadata.deletionTimestamp !== undefined) return `the volume is marked for deletion ${JSON.stringify(pv.metadata.name ?? '')}`;
  // Upstream compares whole units here (Quantity.Value()).
  const toUnits = (milli: bigint): bigint => (milli + 999n) / 1000n;
  if (toUnits(volumeCapacity(pv)) < toUnits(claimRequest(pvc))) return 'requested PV is too small';
  if (volumeClass(pv) !== claimClass(pvc)) return 'storageClassName does not match';
  if (volumeModeMismatch(pvc, pv)) return 'incompatible volumeMode';
  if (!checkAccessModes(pvc, pv)) return 'incompatible accessMode';
  return undefined;
}

/** A node as matching sees it: its name and labels. */
export interface NodeInfo {
  name: string;
  labels: Record<string, string>;
}

function requirementHolds(req: NodeSelectorRequirement, value: string | undefined): boolean {
  const values = req.values ?? [];
  switch (req.operator) {
    case 'In':
      return value !== undefined && values.includes(value);
    case 'NotIn':
      return value === undefined || !values.includes(value);
    case 'Exists':
      return value !== undefined;
    case 'DoesNotExist':
      return value === undefined;
    case 'Gt':
    case 'Lt': {
      if (value === undefined || values.length !== 1 || !/^-?\d+$/.test(value) || !/^-?\d+$/.test(values[0]!)) return false;
      const lhs = BigInt(value);
      const rhs = BigInt(values[0]!);
      return req.operator === 'Gt' ? lhs > rhs : lhs < rhs;
    }
    default:
      return false;
  }
}

/**
 * CheckNodeAffinity: a volume without required node affinity fits every node;
 * otherwise one of its terms must hold entirely (an empty term holds nowhere).
 */
export function checkNodeAffinity(pv: PersistentVolume, node: NodeInfo): boolean {
  const terms = pv.spec.nodeAffinity?.required?.nodeSelectorTerms;
  if (terms === undefined) return true;
  return terms.some((term) => {
    const exprs = term.matchExpressions ?? [];
    const fields = term.matchFields ?? [];
    if (exprs.length === 0 && fields.length === 0) return false;
    return (
      exprs.every((r) => requirementHolds(r, node.labels[r.key])) &&
      fields.every((r) => requirementHolds(r, r.key === 'metadata.name' ? node.name : undefined))
    );
  });
}

// ---------------------------------------------------------------------------
// Choosing a volume

export interface MatchOptions {
  /** The claim's class binds on first consumer: only a pre-bound volume may be chosen. */
  delayBinding?: boolean;
  /** Check node affinity against this node (scheduler path, or the claim's selected node). */
  node?: NodeInfo;
}

/** Whether `pv` may be chosen for `pvc` (not pre-bound to it), given the claim's parsed selector. */
function fitsUnbound(pv: PersistentVolume, selector: LabelSelector | undefined, node: NodeInfo | undefined): boolean {
  if (selector !== undefined && !matches(selector, pv.metadata.labels)) return false;
  if (node !== undefined && !checkNodeAffinity(pv, node)) return false;
  return true;
}

/** The claim's selector, or undefined when it has none (which selects everything). */
function claimSelector(pvc: PersistentVolumeClaim): LabelSelector | undefined {
  const sel = pvc.spec.selector;
  if (sel === undefined || sel === null) return undefined;
  return labelSelectorFromObject(sel);
}

/** A pre-bound volume that passes the checks upstream applies before looking at claimRef. */
function preboundFits(pv: PersistentVolume, pvc: PersistentVolumeClaim, request: bigint, node: NodeInfo | undefined): boolean {
  if (volumeCapacity(pv) < request) return false;
  if (volumeModeMismatch(pvc, pv)) return false;
  if (!checkAccessModes(pvc, pv)) return false;
  if (pv.metadata.deletionTimestamp !== undefined) return false;
  if (node !== undefined && !checkNodeAffinity(pv, node)) return false;
  return true;
}

/**
 * FindMatchingVolume by a plain scan over `volumes` — the reference the index
 * is tested against, and fine for the scheduler's few candidates per node.
 */
export function findMatchingVolume(
  pvc: PersistentVolumeClaim,
  volumes: Iterable<PersistentVolume>,
  options: MatchOptions = {},
): PersistentVolume | undefined {
  const request = claimRequest(pvc);
  const selector = claimSelector(pvc);
  const klass = claimClass(pvc);
  // Fewest access modes first, as upstream's access-mode groups.
  let best: { pv: PersistentVolume; modes: number; size: bigint } | undefined;
  for (const pv of volumes) {
    if (isVolumeBoundToClaim(pv, pvc)) {
      if (preboundFits(pv, pvc, request, options.node)) return pv;
      continue;
    }
    if (options.delayBinding === true && options.node === undefined) continue;
    if (!isAvailableForMatching(pv)) continue;
    if (volumeClass(pv) !== klass || volumeModeMismatch(pvc, pv) || !checkAccessModes(pvc, pv)) continue;
    const size = volumeCapacity(pv);
    if (size < request || !fitsUnbound(pv, selector, options.node)) continue;
    const modes = new Set(pv.spec.accessModes ?? []).size;
    if (best === undefined || modes < best.modes || (modes === best.modes && size < best.size)) best = { pv, modes, size };
  }
  return best?.pv;
}

/** An Available volume with no claimRef that is not being deleted: a candidate for any claim. */
export function isAvailableForMatching(pv: PersistentVolume): boolean {
  const ref = pv.spec.claimRef;
  return pv.status?.phase === 'Available' && (ref === undefined || ref === null) && pv.metadata.deletionTimestamp === undefined;
}

// ---------------------------------------------------------------------------
// The index

const ACCESS_MODE_ORDER: readonly PersistentVolumeAccessMode[] = ['ReadWriteOnce', 'ReadOnlyMany', 'ReadWriteMany', 'ReadWriteOncePod'];

function accessModesKey(modes: readonly string[] | undefined): string {
  const set = new Set(modes ?? []);
  return ACCESS_MODE_ORDER.filter((m) => set.has(m)).join(',');
}

interface Entry {
  size: bigint;
  name: string;
  /** Index in the group's `pending`, or -1 when the entry is in `entries`. */
  pendingAt: number;
  /** Removed from a large group but still in `entries` (see Group.dead). */
  dead?: boolean;
}

/** Available volumes of one (class, volumeMode, access modes). */
interface Group {
  klass: string;
  mode: PersistentVolumeMode;
  modes: ReadonlySet<string>;
  /** Sorted by (size, name). */
  entries: Entry[];
  /** Inserted but not merged into `entries` yet, in no order; merged by the next lookup. */
  pending: Entry[];
  /**
   * Entries of `entries` marked dead instead of spliced out: in a large group
   * a splice moves every later entry, so removals only mark, and the dead are
   * dropped together: all of them when they are half the group, and those a
   * lookup walked over once it has passed DEAD_RUN_COMPACTION of them
   * (volumes are bound in about the order lookups find them, so the dead
   * gather where lookups start, between the few still reserved).
   */
  dead: number;
}

/** Below this size an out-of-order insert is spliced in at once, and a removal spliced out. */
const SPLICE_GROUP_SIZE = 1024;
/** A lookup that has walked over this many dead entries drops them from the group. */
const DEAD_RUN_COMPACTION = 64;

/** The group an available volume is indexed in: class, volumeMode and access modes. */
function volumeGroupKey(pv: PersistentVolume): string {
  return `${volumeClass(pv)}\u0000${volumeModeOf(pv.spec.volumeMode)}\u0000${accessModesKey(pv.spec.accessModes)}`;
}

function compareEntries(a: Entry, b: Entry): number {
  if (a.size !== b.size) return a.size < b.size ? -1 : 1;
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/**
 * Every PersistentVolume by name, with the available ones indexed for
 * findBestMatchForClaim. put() replaces a volume (callers decide whether the
 * newer object wins); remove() forgets it. Objects are stored as given and
 * must not be mutated afterwards.
 */
export class VolumeIndex {
  readonly #byName = new Map<string, PersistentVolume>();
  /** Group key → group; only volumes for which isAvailableForMatching holds. */
  readonly #groups = new Map<string, Group>();
  /** Where each indexed volume sits, so remove() finds it without a scan. */
  readonly #groupOf = new Map<string, { group: Group; entry: Entry }>();
  /** `namespace/name` of a claimRef → names of volumes whose claimRef names that claim. */
  readonly #byClaimRef = new Map<string, Set<string>>();
  /** Volume name → `namespace/name` of the claim it is reserved for (see reserve()). */
  readonly #reserved = new Map<string, string>();
  /** Volumes looked at (and binary-search probes) since the last resetComparisons(). */
  comparisons = 0;
  /** Entry comparisons spent keeping groups in order (searches for a place, sorts) since the last resetComparisons(). */
  orderingComparisons = 0;
  readonly #compare = (a: Entry, b: Entry): number => {
    this.orderingComparisons++;
    return compareEntries(a, b);
  };

  get size(): number {
    return this.#byName.size;
  }

  get(name: string): PersistentVolume | undefined {
    return this.#byName.get(name);
  }

  list(): PersistentVolume[] {
    return [...this.#byName.values()];
  }

  /**
   * Reserves volume `name` for the claim `claimKey` (`namespace/name`):
   * findBestMatchForClaim skips it for every other claim until release().
   * True when the volume is now reserved for that claim (also when it already
   * was); false, and nothing changes, when another claim holds it. The volume
   * need not be in the index: a reservation is only a name.
   */
  reserve(name: string, claimKey: string): boolean {
    const holder = this.#reserved.get(name);
    if (holder !== undefined) return holder === claimKey;
    this.#reserved.set(name, claimKey);
    return true;
  }

  /** Drops the reservation of `name` if `claimKey` holds it; a no-op otherwise. */
  release(name: string, claimKey: string): void {
    if (this.#reserved.get(name) === claimKey) this.#reserved.delete(name);
  }

  /** The claim `name` is reserved for, if any. */
  reservedFor(name: string): string | undefined {
    return this.#reserved.get(name);
  }

  /** How many volumes are reserved right now. */
  get reservations(): number {
    return this.#reserved.size;
  }

  resetComparisons(): void {
    this.comparisons = 0;
    this.orderingComparisons = 0;
  }

  /**
   * Stores `pv` in place of the volume of that name. A volume whose place in
   * the index stays the same (available before and after, same group, same
   * capacity) keeps its entry: a resync puts every volume again, unchanged,
   * and re-inserting 100,000 entries would leave them all to be sorted back
   * in by the next lookup.
   */
  put(pv: PersistentVolume): void {
    const name = pv.metadata.name ?? '';
    const available = isAvailableForMatching(pv);
    const groupKey = available ? volumeGroupKey(pv) : undefined;
    const size = available ? volumeCapacity(pv) : undefined;
    const placed = this.#groupOf.get(name);
    if (placed !== undefined && groupKey !== undefined && placed.group === this.#groups.get(groupKey) && placed.entry.size === size) {
      // Available before and after (an indexed volume has no claimRef, and neither has pv).
      this.#byName.set(name, pv);
      return;
    }
    this.remove(name);
    this.#byName.set(name, pv);
    const ref = pv.spec.claimRef;
    if (ref !== undefined && ref !== null && ref.name !== undefined && ref.name !== '') {
      const key = `${ref.namespace ?? ''}/${ref.name}`;
      let names = this.#byClaimRef.get(key);
      if (names === undefined) this.#byClaimRef.set(key, (names = new Set()));
      names.add(name);
    }
    if (groupKey === undefined || size === undefined) return;
    let group = this.#groups.get(groupKey);
    if (group === undefined) {
      const modesKey = accessModesKey(pv.spec.accessModes);
      group = { klass: volumeClass(pv), mode: volumeModeOf(pv.spec.volumeMode), modes: new Set(modesKey === '' ? [] : modesKey.split(',')), entries: [], pending: [], dead: 0 };
      this.#groups.set(groupKey, group);
    }
    const entry: Entry = { size, name, pendingAt: -1 };
    const entries = group.entries;
    const last = entries[entries.length - 1];
    if (group.pending.length === 0 && (last === undefined || this.#compare(last, entry) <= 0)) {
      entries.push(entry);
    } else if (group.pending.length === 0 && entries.length < SPLICE_GROUP_SIZE) {
      entries.splice(this.#lowerBound(entries, entry), 0, entry);
    } else {
      entry.pendingAt = group.pending.length;
      group.pending.push(entry);
    }
    this.#groupOf.set(name, { group, entry });
  }

  remove(name: string): void {
    const old = this.#byName.get(name);
    if (old === undefined) return;
    this.#byName.delete(name);
    const ref = old.spec.claimRef;
    if (ref !== undefined && ref !== null && ref.name !== undefined) {
      const key = `${ref.namespace ?? ''}/${ref.name}`;
      const names = this.#byClaimRef.get(key);
      names?.delete(name);
      if (names?.size === 0) this.#byClaimRef.delete(key);
    }
    const placed = this.#groupOf.get(name);
    if (placed === undefined) return;
    this.#groupOf.delete(name);
    const { group, entry } = placed;
    if (entry.pendingAt >= 0) {
      // Unordered: move the last pending entry into its slot.
      const moved = group.pending.pop() as Entry;
      if (moved !== entry) {
        moved.pendingAt = entry.pendingAt;
        group.pending[entry.pendingAt] = moved;
      }
      entry.pendingAt = -1;
      return;
    }
    if (group.entries.length >= SPLICE_GROUP_SIZE) {
      entry.dead = true;
      group.dead++;
      if (group.dead * 2 > group.entries.length) this.#compact(group);
      return;
    }
    // A small group never holds dead entries: they appear only at SPLICE_GROUP_SIZE and more, and go all at once.
    const at = this.#lowerBound(group.entries, entry);
    if (group.entries[at] === entry) group.entries.splice(at, 1);
  }

  /**
   * Drops the dead entries of `group.entries[from, to)`, keeping the live
   * ones in order, with one splice: a native move of the tail instead of a
   * pass over the whole group. Returns where `to` is now.
   */
  #dropDead(group: Group, from: number, to: number): number {
    const entries = group.entries;
    let kept = from;
    for (let i = from; i < to; i++) {
      const entry = entries[i]!;
      if (entry.dead !== true) entries[kept++] = entry;
    }
    const dropped = to - kept;
    if (dropped > 0) {
      entries.splice(kept, dropped);
      group.dead -= dropped;
    }
    return kept;
  }

  /** Drops a group's dead entries. */
  #compact(group: Group): void {
    if (group.dead === 0) return;
    group.entries = group.entries.filter((e) => e.dead !== true);
    group.dead = 0;
  }

  /**
   * findBestMatchForClaim: the volume pre-bound to the claim, else the
   * smallest available volume that fits (see the file comment), else
   * undefined; volumes reserved for another claim are never returned.
   */
  findBestMatchForClaim(pvc: PersistentVolumeClaim, options: MatchOptions = {}): PersistentVolume | undefined {
    const request = claimRequest(pvc);
    const claimKey = `${pvc.metadata.namespace ?? ''}/${pvc.metadata.name ?? ''}`;
    for (const name of [...(this.#byClaimRef.get(claimKey) ?? [])].sort()) {
      const pv = this.#byName.get(name);
      this.comparisons++;
      if (this.#reservedForOther(name, claimKey)) continue;
      if (pv !== undefined && isVolumeBoundToClaim(pv, pvc) && preboundFits(pv, pvc, request, options.node)) return pv;
    }
    // Upstream: with delayed binding and no node, only the scheduler may choose.
    if (options.delayBinding === true && options.node === undefined) return undefined;

    const selector = claimSelector(pvc);
    const klass = claimClass(pvc);
    const mode = volumeModeOf(pvc.spec.volumeMode);
    const wanted = pvc.spec.accessModes ?? [];
    const groups = [...this.#groups.values()]
      .filter((g) => g.klass === klass && g.mode === mode && g.entries.length + g.pending.length > 0 && wanted.every((m) => g.modes.has(m)))
      .sort((a, b) => a.modes.size - b.modes.size || accessModesKey([...a.modes]).localeCompare(accessModesKey([...b.modes])));
    for (const group of groups) {
      this.#mergePending(group);
      const entries = group.entries;
      let i = this.#firstFitting(entries, request);
      // Where the walk over dead entries began, and how many it has passed.
      let walkedFrom = i;
      let deadWalked = 0;
      for (; i < entries.length; i++) {
        const entry = entries[i]!;
        this.comparisons++;
        if (entry.dead === true) {
          if (++deadWalked >= DEAD_RUN_COMPACTION) {
            i = this.#dropDead(group, walkedFrom, i + 1) - 1;
            walkedFrom = i + 1;
            deadWalked = 0;
          }
          continue;
        }
        const name = entry.name;
        if (this.#reservedForOther(name, claimKey)) continue;
        const pv = this.#byName.get(name);
        if (pv !== undefined && fitsUnbound(pv, selector, options.node)) return pv;
      }
    }
    return undefined;
  }

  #reservedForOther(name: string, claimKey: string): boolean {
    if (this.#reserved.size === 0) return false;
    const holder = this.#reserved.get(name);
    return holder !== undefined && holder !== claimKey;
  }

  /** Index of the first entry with size ≥ request, counting probes. */
  #firstFitting(entries: readonly Entry[], request: bigint): number {
    let lo = 0;
    let hi = entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      this.comparisons++;
      if (entries[mid]!.size < request) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /**
   * Moves a group's pending entries into its sorted ones: by a binary search
   * and a splice each while they are few next to the group (a memmove beats
   * a sort's n comparisons), else by sorting everything once.
   */
  #mergePending(group: Group): void {
    const pending = group.pending;
    if (pending.length === 0) return;
    for (const e of pending) e.pendingAt = -1;
    group.pending = [];
    if (pending.length * 32 <= group.entries.length) {
      for (const e of pending) group.entries.splice(this.#lowerBound(group.entries, e), 0, e);
    } else {
      group.entries = group.entries.concat(pending).sort(this.#compare);
    }
  }

  #lowerBound(entries: readonly Entry[], probe: Entry): number {
    let lo = 0;
    let hi = entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#compare(entries[mid]!, probe) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}


