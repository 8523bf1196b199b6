import { expect } from "chai";
import { CommitTracker } from "../../../worker/src/offsets/commit-tracker.ts";

const offsetsOf = (tracker: CommitTracker) =>
  tracker.due().map(({ topic, partition, offset }) => `${topic}/${partition}@${offset}`);

describe("CommitTracker", () => {
  it("commits a partition only up to its acknowledged prefix, whatever order batches finish in", () => {
    const tracker = new CommitTracker();
    const first = tracker.track("req", 0, "9", 10);
    const second = tracker.track("req", 0, "19", 10);
    const third = tracker.track("req", 0, "29", 10);
    tracker.acknowledge(second);
    tracker.acknowledge(third);
    expect(offsetsOf(tracker)).to.deep.equal([]);
    tracker.acknowledge(first);
    expect(offsetsOf(tracker)).to.deep.equal(["req/0@30"]);
  });

  it("keeps partitions independent and reports only what is ahead of the last commit", () => {
    const tracker = new CommitTracker();
    const a = tracker.track("req", 0, "4", 5);
    const b = tracker.track("req", 1, "7", 8);
    tracker.acknowledge(b);
    expect(offsetsOf(tracker)).to.deep.equal(["req/1@8"]);
    tracker.committed(tracker.due());
    expect(offsetsOf(tracker)).to.deep.equal([]);
    tracker.acknowledge(a);
    expect(offsetsOf(tracker)).to.deep.equal(["req/0@5"]);
  });

  it("keeps reporting an offset whose commit failed until one succeeds", () => {
    const tracker = new CommitTracker();
    tracker.acknowledge(tracker.track("req", 3, "0", 1));
    expect(offsetsOf(tracker)).to.deep.equal(["req/3@1"]);
    expect(offsetsOf(tracker)).to.deep.equal(["req/3@1"]);
  });

  it("never moves an offset back when a rebalance makes a batch be fetched again", () => {
    const tracker = new CommitTracker();
    tracker.acknowledge(tracker.track("req", 0, "99", 100));
    tracker.committed(tracker.due());
    tracker.acknowledge(tracker.track("req", 0, "49", 50));
    expect(offsetsOf(tracker)).to.deep.equal([]);
  });

  it("commits nothing past an abandoned batch on its partition, and stops counting it as pending", () => {
    const tracker = new CommitTracker();
    const done = tracker.track("req", 0, "9", 10);
    const failed = tracker.track("req", 0, "19", 10);
    const later = tracker.track("req", 0, "29", 10);
    const elsewhere = tracker.track("req", 1, "4", 5);
    expect(tracker.unacknowledged).to.equal(35);
    tracker.acknowledge(done);
    tracker.abandon(failed);
    tracker.acknowledge(later);
    tracker.acknowledge(elsewhere);
    expect(offsetsOf(tracker)).to.deep.equal(["req/0@10", "req/1@5"]);
    expect(tracker.unacknowledged).to.equal(0);
  });

  it("forgets revoked partitions: their late acknowledgements commit nothing", () => {
    const tracker = new CommitTracker();
    const revoked = tracker.track("req", 0, "9", 10);
    const kept = tracker.track("req", 1, "9", 10);
    tracker.retain((_topic, partition) => partition === 1);
    expect(tracker.owns(revoked)).to.equal(false);
    expect(tracker.owns(kept)).to.equal(true);
    tracker.acknowledge(revoked);
    tracker.acknowledge(kept);
    expect(offsetsOf(tracker)).to.deep.equal(["req/1@10"]);
    expect(tracker.unacknowledged).to.equal(0);
  });

  it("counts each acknowledgement once", () => {
    const tracker = new CommitTracker();
    const ticket = tracker.track("req", 0, "9", 10);
    tracker.acknowledge(ticket);
    tracker.acknowledge(ticket);
    tracker.abandon(ticket);
    expect(tracker.unacknowledged).to.equal(0);
    expect(offsetsOf(tracker)).to.deep.equal(["req/0@10"]);
  });
});
