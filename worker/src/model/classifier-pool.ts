// Several classifier threads behind one Classifier. A batch takes a whole thread for its tokenization and
// inference, so a worker with spare cores runs batches side by side, each on the thread with the least to do. A
// thread that dies is replaced by a new one loading the same model, so a crashed thread costs the calls it had,
// not the worker.
import type { Classifier, ClassifierOptions } from "./classifier.ts";
import { loadClassifierInThread, type ThreadClassifier } from "./classifier-thread.ts";

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
  const [first] = members as [ThreadClassifier, ...ThreadClassifier[]];
  let closed = false;
  /** Each thread, or the load of its replacement (which, if it failed, the next call there starts again). */
  const slots: (ThreadClassifier | Promise<ThreadClassifier>)[] = [...members];
  const replaceWhenDead = (index: number, member: ThreadClassifier) => {
    void member.died.then(() => {
      if (!closed) slots[index] = reload(index);
    });
  };
  const reload = (index: number): Promise<ThreadClassifier> => {
    const loading = loadThread(dir, options);
    loading.then(
      (member) => {
        if (closed) return void member.close();
        if (slots[index] === loading) slots[index] = member;
        replaceWhenDead(index, member);
      },
      () => {},
    );
    return loading;
  };
  for (const [index, member] of members.entries()) replaceWhenDead(index, member);
  const outstanding = members.map(() => 0);
  return {
    name: first.name,
    version: first.version,
    labels: first.labels,
    maxSequenceLength: first.maxSequenceLength,
    tokenization: first.tokenization,
    async classify(texts) {
      const index = leastBusy(outstanding);
      outstanding[index] = (outstanding[index] as number) + 1;
      try {
        const slot = slots[index] as ThreadClassifier | Promise<ThreadClassifier>;
        let member: ThreadClassifier;
        try {
          member = slot instanceof Promise ? await slot : slot;
        } catch (error) {
          if (slots[index] === slot) slots[index] = reload(index);
          throw error;
        }
        return await member.classify(texts);
      } finally {
        outstanding[index] = (outstanding[index] as number) - 1;
      }
    },
    async close() {
      closed = true;
      const settled = await Promise.allSettled(slots);
      await Promise.all(settled.flatMap((slot) => (slot.status === "fulfilled" ? [slot.value.close()] : [])));
    },
  };
}
