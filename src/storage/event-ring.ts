// The watch cache's recent history: a fixed-capacity ring of events in
// revision order. `floor` is the revision below which the ring no longer
// knows everything: it holds every event with revision > floor, so a watch
// from any revision >= floor can be replayed from memory alone.

export interface RingEvent {
  readonly revision: number;
}

export class EventRing<E extends RingEvent> {
  readonly #capacity: number;
  readonly #slots: (E | undefined)[];
  #start = 0;
  #size = 0;
  #floor: number;

  constructor(capacity: number, floor: number) {
    this.#capacity = capacity;
    this.#slots = new Array<E | undefined>(capacity);
    this.#floor = floor;
  }

  get floor(): number {
    return this.#floor;
  }

  get size(): number {
    return this.#size;
  }

  push(event: E): void {
    if (this.#capacity === 0) {
      this.#floor = event.revision;
      return;
    }
    if (this.#size === this.#capacity) {
      this.#floor = this.#at(0).revision;
      this.#slots[this.#start] = undefined;
      this.#start = (this.#start + 1) % this.#capacity;
      this.#size--;
    }
    this.#slots[(this.#start + this.#size) % this.#capacity] = event;
    this.#size++;
  }

  /** The events with revision > `revision`, oldest first. Complete only when revision >= floor. */
  since(revision: number): E[] {
    let lo = 0;
    let hi = this.#size;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#at(mid).revision <= revision) lo = mid + 1;
      else hi = mid;
    }
    const out: E[] = [];
    for (let i = lo; i < this.#size; i++) out.push(this.#at(i));
    return out;
  }

  #at(i: number): E {
    return this.#slots[(this.#start + i) % this.#capacity] as E;
  }
}
