import { expect } from "chai";
import { Batcher } from "../../../worker/src/batching/batcher.ts";
import { decideBatch } from "../../../worker/src/batching/decide-batch.ts";

describe("decideBatch", () => {
  const policy = { maxSize: 4, maxWaitMs: 10, parallel: 1, maxInFlight: 1 };
  const at = (queued: number, oldestArrivedAt: number, inFlight = 0) => ({
    queued,
    oldestArrivedAt,
    inFlight,
  });

  it("is idle with nothing queued or the model busy", () => {
    expect(decideBatch(at(0, 0), 100, policy)).to.deep.equal({ kind: "idle" });
    expect(decideBatch(at(9, 0, 1), 100, policy)).to.deep.equal({ kind: "idle" });
  });
  it("closes a batch at maxSize before the wait is over", () => {
    expect(decideBatch(at(9, 100), 100, policy)).to.deep.equal({ kind: "dispatch", sizes: [4] });
  });
  it("waits out the rest of maxWaitMs for a partial batch, then closes it", () => {
    expect(decideBatch(at(2, 100), 103, policy)).to.deep.equal({ kind: "wait", ms: 7 });
    expect(decideBatch(at(2, 100), 110, policy)).to.deep.equal({ kind: "dispatch", sizes: [2] });
  });
  it("never waits when maxWaitMs is 0", () => {
    expect(decideBatch(at(1, 100), 100, { ...policy, maxWaitMs: 0 })).to.deep.equal({
      kind: "dispatch",
      sizes: [1],
    });
  });

  describe("with two model threads", () => {
    const two = { maxSize: 4, maxWaitMs: 0, parallel: 2, maxInFlight: 3 };
    it("shares what closes together evenly over the idle threads", () => {
      expect(decideBatch(at(7, 100), 100, two)).to.deep.equal({ kind: "dispatch", sizes: [4, 3] });
      expect(decideBatch(at(3, 100), 100, two)).to.deep.equal({ kind: "dispatch", sizes: [2, 1] });
      expect(decideBatch(at(1, 100), 100, two)).to.deep.equal({ kind: "dispatch", sizes: [1] });
    });
    it("shares out over every idle thread when there are more than two", () => {
      expect(decideBatch(at(4, 100), 100, { ...two, parallel: 3, maxInFlight: 4 })).to.deep.equal({
        kind: "dispatch",
        sizes: [2, 1, 1],
      });
    });
    it("fills every idle thread's batch to maxSize and leaves the rest queued", () => {
      expect(decideBatch(at(20, 100), 100, two)).to.deep.equal({ kind: "dispatch", sizes: [4, 4] });
    });
    it("hands over one batch at a time while every thread is busy, up to maxInFlight", () => {
      expect(decideBatch(at(7, 100, 2), 100, two)).to.deep.equal({ kind: "dispatch", sizes: [4] });
      expect(decideBatch(at(7, 100, 1), 100, two)).to.deep.equal({ kind: "dispatch", sizes: [4] });
      expect(decideBatch(at(7, 100, 3), 100, two)).to.deep.equal({ kind: "idle" });
    });
  });
});

describe("Batcher", () => {
  it("groups inputs submitted together up to maxSize and resolves each with its own result", async () => {
    const batches: number[][] = [];
    const batcher = new Batcher<number, number>(
      { maxSize: 3, maxWaitMs: 1000, parallel: 1, maxInFlight: 1 },
      async (items) => {
        batches.push(items);
        return items.map((n) => n * 10);
      },
    );
    const results = await Promise.all([1, 2, 3, 4, 5, 6].map((n) => batcher.submit(n)));
    expect(results).to.deep.equal([10, 20, 30, 40, 50, 60]);
    expect(batches).to.deep.equal([
      [1, 2, 3],
      [4, 5, 6],
    ]);
  });

  it("closes a partial batch after maxWaitMs", async () => {
    const batches: string[][] = [];
    const batcher = new Batcher<string, string>(
      { maxSize: 100, maxWaitMs: 300, parallel: 1, maxInFlight: 1 },
      async (items) => {
        batches.push(items);
        return items;
      },
    );
    const first = batcher.submit("a");
    await new Promise((resolve) => setTimeout(resolve, 5));
    const second = batcher.submit("b");
    expect(await Promise.all([first, second])).to.deep.equal(["a", "b"]);
    expect(batches).to.deep.equal([["a", "b"]]);
  });

  it("lets a batch grow while the model is busy", async () => {
    const batches: number[][] = [];
    let release: () => void = () => {};
    const busy = new Promise<void>((resolve) => {
      release = resolve;
    });
    const batcher = new Batcher<number, number>(
      { maxSize: 10, maxWaitMs: 0, parallel: 1, maxInFlight: 1 },
      async (items) => {
        batches.push(items);
        if (batches.length === 1) await busy;
        return items;
      },
    );
    const first = batcher.submit(1);
    await new Promise((resolve) => setImmediate(resolve));
    const rest = [2, 3, 4].map((n) => batcher.submit(n));
    release();
    await Promise.all([first, ...rest]);
    expect(batches).to.deep.equal([[1], [2, 3, 4]]);
  });

  it("fails the whole batch when the handler breaks the one-result-per-input rule", async () => {
    const batcher = new Batcher<number, number>(
      { maxSize: 2, maxWaitMs: 0, parallel: 1, maxInFlight: 1 },
      async () => [1],
    );
    const outcomes = await Promise.allSettled([batcher.submit(1), batcher.submit(2)]);
    expect(outcomes.map((o) => o.status)).to.deep.equal(["rejected", "rejected"]);
    expect(String((outcomes[0] as PromiseRejectedResult).reason)).to.match(/returned 1 results for 2 inputs/);
  });
});
