import { expect } from "chai";
import {
  overlaps,
  PartitionLocks,
  partitionKey,
  type SendScope,
} from "../../../worker/src/output/partition-locks.ts";

const scope = (partitions: string[], topics: string[] = []): SendScope => ({
  partitions: new Set(partitions),
  topics: new Set(topics),
});

describe("PartitionLocks", () => {
  it("says sends overlap when they share a partition, or one holds the whole topic of the other's partition", () => {
    const responses0 = partitionKey("responses", 0);
    expect(overlaps(scope([responses0]), scope([responses0]))).to.equal(true);
    expect(overlaps(scope([responses0]), scope([partitionKey("responses", 1)]))).to.equal(false);
    expect(overlaps(scope([], ["responses"]), scope([responses0]))).to.equal(true);
    expect(overlaps(scope([responses0]), scope([], ["responses"]))).to.equal(true);
    expect(overlaps(scope([], ["dlq"]), scope([responses0]))).to.equal(false);
    expect(overlaps(scope([partitionKey("a/b", 0)]), scope([], ["a"]))).to.equal(false);
  });

  it("runs sends that share a partition one after the other, and others at once", async () => {
    const locks = new PartitionLocks();
    const events: string[] = [];
    const releases = new Map<string, () => void>();
    const send = (name: string) => () =>
      new Promise<string>((resolve) => {
        events.push(`start ${name}`);
        releases.set(name, () => {
          events.push(`end ${name}`);
          resolve(name);
        });
      });
    const first = locks.run(scope([partitionKey("responses", 0)]), send("first"));
    const sameTopicUnplaced = locks.run(scope([], ["responses"]), send("unplaced"));
    const otherTopic = locks.run(scope([partitionKey("dlq", 0)]), send("dlq"));
    await new Promise(setImmediate);
    expect(events).to.deep.equal(["start first", "start dlq"]);
    releases.get("first")?.();
    await first;
    await new Promise(setImmediate);
    expect(events).to.deep.equal(["start first", "start dlq", "end first", "start unplaced"]);
    releases.get("unplaced")?.();
    releases.get("dlq")?.();
    expect(await Promise.all([sameTopicUnplaced, otherTopic])).to.deep.equal(["unplaced", "dlq"]);
  });

  it("lets the next send go when a send fails", async () => {
    const locks = new PartitionLocks();
    const key = scope([partitionKey("responses", 3)]);
    const failed = locks.run(key, () => Promise.reject(new Error("refused")));
    const next = locks.run(key, async () => "sent");
    expect(
      await failed.then(
        () => "sent",
        (error: Error) => error.message,
      ),
    ).to.equal("refused");
    expect(await next).to.equal("sent");
  });
});
