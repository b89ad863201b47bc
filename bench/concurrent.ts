// A closed-loop pool for filling the store: `concurrency` workers take the
// next index until `count` are done, so the API is kept exactly that many
// requests busy — "as fast as it takes them". The first failure stops the
// pool (workers finish their current request) and is rethrown.

/** Calls `op(i)` for i in [0, count) with at most `concurrency` calls in flight. */
export async function forEachConcurrent(count: number, concurrency: number, op: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    while (!failed && next < count) {
      const i = next++;
      try {
        await op(i);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
}
