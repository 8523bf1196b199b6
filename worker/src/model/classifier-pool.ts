// Several classifier threads behind one Classifier. A batch takes a whole thread for its tokenization and
// inference, so a worker with spare cores runs batches side by side, each on the thread with the least to do.
import type { Classifier, ClassifierOptions } from "./classifier.ts";
import { loadClassifierInThread } from "./classifier-thread.ts";

/** Index of the thread with the fewest batches handed to it and not yet answered (the first on a tie). */
function leastBusy(outstanding: readonly number[]): number {
  let best = 0;
  for (const [index, count] of outstanding.entries()) {
    if (count < (outstanding[best] as number)) best = index;
  }
  return best;
}

/**
 * Loads the model on `threads` threads; close() ends them all. A thread that fails to load fails the pool.
 * `loadThread` loads one thread's classifier (a test's fakes stand in for real threads).
 */
export async function loadClassifierPool(
  dir: string,
  options: ClassifierOptions,
  threads: number,
  loadThread: typeof loadClassifierInThread = loadClassifierInThread,
): Promise<Classifier> {
  const loads = await Promise.allSettled(Array.from({ length: threads }, () => loadThread(dir, options)));
  const members = loads.flatMap((load) => (load.status === "fulfilled" ? [load.value] : []));
  const failed = loads.find((load) => load.status === "rejected");
  if (failed !== undefined) {
    await Promise.all(members.map((member) => member.close()));
    throw failed.reason;
  }
  const [first] = members as [Classifier, ...Classifier[]];
  const outstanding = members.map(() => 0);
  return {
    name: first.name,
    version: first.version,
    labels: first.labels,
    maxSequenceLength: first.maxSequenceLength,
    async classify(texts) {
      const index = leastBusy(outstanding);
      outstanding[index] = (outstanding[index] as number) + 1;
      try {
        return await (members[index] as Classifier).classify(texts);
      } finally {
        outstanding[index] = (outstanding[index] as number) - 1;
      }
    },
    async close() {
      await Promise.all(members.map((member) => member.close()));
    },
  };
}
