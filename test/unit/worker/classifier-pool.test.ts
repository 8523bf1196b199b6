import { expect } from "chai";
import { loadClassifierPool } from "../../../worker/src/model/classifier-pool.ts";
import type { ThreadClassifier } from "../../../worker/src/model/classifier-thread.ts";

/** A pool over fake threads whose batches wait until the test finishes them; `runs` names the thread of each. */
async function fakePool(threads: number) {
  const runs: number[] = [];
  const unfinished: (() => void)[] = [];
  let loaded = 0;
  const loadThread = async (): Promise<ThreadClassifier> => {
    const thread = loaded++;
    return {
      name: "model",
      version: "1",
      labels: ["negative", "positive"],
      maxSequenceLength: 8,
      tokenization: "per word, cached",
      classify: (texts) =>
        new Promise((resolve) => {
          runs.push(thread);
          unfinished.push(() => resolve(texts.map(() => ({ label: "positive", score: 1, scores: {} }))));
        }),
      close: async () => {},
      died: new Promise<Error>(() => {}),
    };
  };
  const pool = await loadClassifierPool("model-dir", { maxSequenceLength: 8 }, threads, loadThread);
  return { pool, runs, finish: (index: number) => unfinished[index]?.() };
}

describe("classifier pool", () => {
  it("hands each batch to the thread with the fewest batches outstanding", async () => {
    const { pool, runs, finish } = await fakePool(3);
    const first = pool.classify(["a"]);
    void pool.classify(["b"]);
    finish(0);
    await first;
    void pool.classify(["c"]);
    void pool.classify(["d"]);
    expect(runs).to.deep.equal([0, 1, 0, 2]);
  });

  it("picks the first thread on a tie, so one batch at a time always goes to the same thread", async () => {
    const { pool, runs, finish } = await fakePool(2);
    for (const [index, text] of ["a", "b", "c"].entries()) {
      const running = pool.classify([text]);
      finish(index);
      await running;
    }
    expect(runs).to.deep.equal([0, 0, 0]);
  });
});
