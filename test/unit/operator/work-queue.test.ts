import { setTimeout as sleep } from "node:timers/promises";
import { expect } from "chai";
import { WorkQueue } from "../../../operator/src/controller/work-queue.ts";

describe("operator work queue", () => {
  const queue = () => new WorkQueue({ baseDelayMs: 10, maxDelayMs: 80 });

  it("hands out a key added many times once", async () => {
    const q = queue();
    q.add("ns/a");
    q.add("ns/a");
    q.add("ns/b");
    expect(await q.get()).to.equal("ns/a");
    expect(await q.get()).to.equal("ns/b");
    expect(q.length).to.equal(0);
  });

  it("never hands out a key being processed; an add meanwhile runs it once more afterwards", async () => {
    const q = queue();
    q.add("ns/a");
    const key = await q.get();
    q.add("ns/a");
    q.add("ns/a");
    expect(q.length).to.equal(0);
    q.done(key ?? "");
    expect(q.length).to.equal(1);
    expect(await q.get()).to.equal("ns/a");
  });

  it("wakes a waiting worker when a key arrives", async () => {
    const q = queue();
    const waiting = q.get();
    q.add("ns/a");
    expect(await waiting).to.equal("ns/a");
  });

  it("backs off a failing key exponentially up to the maximum, and forgets on success", () => {
    const q = queue();
    expect([1, 2, 3, 4, 5].map(() => q.addRateLimited("ns/a"))).to.deep.equal([10, 20, 40, 80, 80]);
    expect(q.failures("ns/a")).to.equal(5);
    q.forget("ns/a");
    expect(q.addRateLimited("ns/a")).to.equal(10);
    q.shutDown();
  });

  it("adds a key after a delay, keeping the earliest of two schedules", async () => {
    const q = queue();
    q.addAfter("ns/a", 10_000);
    q.addAfter("ns/a", 20);
    q.addAfter("ns/a", 5_000);
    await sleep(60);
    expect(q.length).to.equal(1);
    q.shutDown();
  });

  it("resolves waiting workers with undefined on shut down and ignores later adds", async () => {
    const q = queue();
    const waiting = q.get();
    q.shutDown();
    expect(await waiting).to.equal(undefined);
    q.add("ns/a");
    expect(await q.get()).to.equal(undefined);
  });
});
