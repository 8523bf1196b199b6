import { expect } from "chai";
import { CoalescingWriter } from "../../../worker/src/output/coalescing-writer.ts";

describe("CoalescingWriter", () => {
  it("writes what is submitted in one turn together, and what arrives during a write in the next", async () => {
    const writes: number[][] = [];
    let release: () => void = () => {};
    const writer = new CoalescingWriter<number>(async (items) => {
      writes.push(items);
      if (writes.length === 1) await new Promise<void>((resolve) => (release = resolve));
    });
    const first = [writer.submit([1]), writer.submit([2, 3])];
    await new Promise((resolve) => setImmediate(resolve));
    const second = [writer.submit([4]), writer.submit([5])];
    release();
    await Promise.all([...first, ...second]);
    expect(writes).to.deep.equal([
      [1, 2, 3],
      [4, 5],
    ]);
  });

  it("rejects every submission that shared a failed write, and carries on with the next", async () => {
    let failNext = true;
    const writer = new CoalescingWriter<string>(async () => {
      if (failNext) {
        failNext = false;
        throw new Error("refused");
      }
    });
    const results = await Promise.allSettled([writer.submit(["a"]), writer.submit(["b"])]);
    expect(results.map((r) => r.status)).to.deep.equal(["rejected", "rejected"]);
    await writer.submit(["c"]);
  });

  it("resolves only after its write has finished", async () => {
    const done: string[] = [];
    const writer = new CoalescingWriter<string>(async (items) => {
      await new Promise((resolve) => setTimeout(resolve, 5));
      done.push(...items);
    });
    await writer.submit(["x"]);
    expect(done).to.deep.equal(["x"]);
  });
});
