import { expect } from "chai";
import { consumerLag } from "../../../operator/src/kafka/lag.ts";
import { tailsToCheck } from "../../../operator/src/kafka/lag-tail.ts";

describe("consumer lag", () => {
  it("is the log end minus the committed offset, per partition and in total", () => {
    const lag = consumerLag([
      { partition: 1, logStartOffset: 0, logEndOffset: 100, committedOffset: 40 },
      { partition: 0, logStartOffset: 0, logEndOffset: 10, committedOffset: 10 },
    ]);
    expect(lag).to.deep.equal({
      total: 60,
      partitions: [
        { partition: 0, lag: 0 },
        { partition: 1, lag: 60 },
      ],
      logEndOffset: 110,
      partitionsWithoutCommit: [],
    });
  });

  it("counts the whole log of a partition without a commit (null or -1), and lists it", () => {
    const lag = consumerLag([
      { partition: 2, logStartOffset: 5, logEndOffset: 25, committedOffset: null },
      { partition: 0, logStartOffset: 0, logEndOffset: 7, committedOffset: -1 },
      { partition: 1, logStartOffset: 0, logEndOffset: 9, committedOffset: 3 },
    ]);
    expect(lag.partitions).to.deep.equal([
      { partition: 0, lag: 7 },
      { partition: 1, lag: 6 },
      { partition: 2, lag: 20 },
    ]);
    expect(lag.total).to.equal(33);
    expect(lag.partitionsWithoutCommit).to.deep.equal([0, 2]);
  });

  it("counts from the log start when retention removed records the group had not read", () => {
    const lag = consumerLag([{ partition: 0, logStartOffset: 50, logEndOffset: 80, committedOffset: 10 }]);
    expect(lag.total).to.equal(30);
    expect(lag.partitionsWithoutCommit).to.deep.equal([]);
  });

  it("is never negative when a commit is read after a log end that has since moved on", () => {
    const lag = consumerLag([{ partition: 0, logStartOffset: 0, logEndOffset: 80, committedOffset: 85 }]);
    expect(lag.partitions).to.deep.equal([{ partition: 0, lag: 0 }]);
    expect(lag.total).to.equal(0);
  });

  it("is zero for an empty topic and for no partitions", () => {
    expect(
      consumerLag([{ partition: 0, logStartOffset: 0, logEndOffset: 0, committedOffset: null }]).total,
    ).to.equal(0);
    expect(consumerLag([])).to.deep.equal({
      total: 0,
      partitions: [],
      logEndOffset: 0,
      partitionsWithoutCommit: [],
    });
  });
});

describe("lag tails looked at for transaction markers", () => {
  it("are the short tails behind a commit inside the log, and nothing else", () => {
    expect(
      tailsToCheck([
        { partition: 0, logStartOffset: 0, logEndOffset: 10, committedOffset: 9 },
        { partition: 1, logStartOffset: 0, logEndOffset: 10, committedOffset: 10 },
        { partition: 2, logStartOffset: 0, logEndOffset: 10, committedOffset: null },
        { partition: 3, logStartOffset: 5, logEndOffset: 10, committedOffset: 2 },
        { partition: 4, logStartOffset: 0, logEndOffset: 1000, committedOffset: 899 },
        { partition: 5, logStartOffset: 0, logEndOffset: 1000, committedOffset: 900 },
      ]),
    ).to.deep.equal([
      { partition: 0, from: 9, to: 10 },
      { partition: 5, from: 900, to: 1000 },
    ]);
  });
});
