import { expect } from "chai";
import { chunkSizeFor, Pacer } from "../../../operator/src/redrive/pacing.ts";
import { partitionProgress, redriveDone, redriveStatus } from "../../../operator/src/redrive/progress.ts";
import { resolveRedrive } from "../../../operator/src/redrive/redrive.ts";
import { encodeCounts, noCounts } from "../../../operator/src/redrive/selection.ts";

const redrive = (limit?: number) =>
  resolveRedrive({
    apiVersion: "kubesentiment.io/v1alpha1",
    kind: "SentimentRedrive",
    metadata: { name: "r", namespace: "ns", uid: "u" },
    spec: { pipeline: "p", ...(limit === undefined ? {} : { limit }) },
  });

describe("redrive progress", () => {
  it("fixes the range at the first run: from the log start (or a commit) to the log end then", () => {
    const progress = partitionProgress(
      undefined,
      [
        { partition: 0, low: "3", high: "10" },
        { partition: 1, low: "0", high: "0" },
      ],
      [],
    );
    expect(progress).to.deep.equal([
      { partition: 0, startOffset: "3", endOffset: "10", nextOffset: "3", counts: noCounts },
      { partition: 1, startOffset: "0", endOffset: "0", nextOffset: "0", counts: noCounts },
    ]);
  });

  it("keeps the recorded range on a later run, resuming from the committed offsets and their counts", () => {
    const counts = { sent: 4, skipped: 1, skippedAtBound: 0 };
    const progress = partitionProgress(
      [{ partition: 0, startOffset: "3", endOffset: "10", nextOffset: "3" }],
      // Dead letters written since, and a partition added since: neither is part of this redrive.
      [
        { partition: 0, low: "3", high: "25" },
        { partition: 1, low: "0", high: "9" },
      ],
      [{ partition: 0, offset: "8", metadata: encodeCounts(counts) }],
    );
    expect(progress).to.deep.equal([
      { partition: 0, startOffset: "3", endOffset: "10", nextOffset: "8", counts },
    ]);
  });

  it("passes over records retention removed, and is done with a partition whose range expired", () => {
    const progress = partitionProgress(
      [
        { partition: 0, startOffset: "0", endOffset: "10", nextOffset: "2" },
        { partition: 1, startOffset: "0", endOffset: "10", nextOffset: "2" },
      ],
      [
        { partition: 0, low: "5", high: "30" },
        { partition: 1, low: "12", high: "30" },
      ],
      [],
    );
    expect(progress.map(({ nextOffset }) => nextOffset)).to.deep.equal(["5", "10"]);
  });

  it("is done when every partition reached its end, or the limit is reached", () => {
    const at = (next: string, sent = 0) => ({
      partition: 0,
      startOffset: "0",
      endOffset: "4",
      nextOffset: next,
      counts: { ...noCounts, sent },
    });
    expect(redriveDone([at("4"), { ...at("4"), partition: 1 }], redrive())).to.equal(true);
    expect(redriveDone([at("3", 3)], redrive())).to.equal(false);
    expect(redriveDone([at("3", 3)], redrive(3))).to.equal(true);
  });

  it("writes phase, partitions, summed counts, start and completion times and the conditions", () => {
    const t1 = new Date("2026-12-03T10:00:00Z");
    const t2 = new Date("2026-12-03T10:05:00Z");
    const progress = [
      {
        partition: 0,
        startOffset: "0",
        endOffset: "4",
        nextOffset: "2",
        counts: { sent: 1, skipped: 1, skippedAtBound: 0 },
      },
      {
        partition: 1,
        startOffset: "0",
        endOffset: "2",
        nextOffset: "2",
        counts: { sent: 1, skipped: 0, skippedAtBound: 1 },
      },
    ];
    const running = redriveStatus(
      undefined,
      { phase: "Running", reason: "Redriving", message: "m", progress },
      1,
      t1,
    );
    expect(running).to.deep.include({
      phase: "Running",
      sent: 2,
      skipped: 1,
      skippedAtBound: 1,
      startTime: t1.toISOString(),
      partitions: [
        { partition: 0, startOffset: "0", endOffset: "4", nextOffset: "2" },
        { partition: 1, startOffset: "0", endOffset: "2", nextOffset: "2" },
      ],
    });
    expect(running.completionTime).to.equal(undefined);
    const done = redriveStatus(running, { phase: "Done", reason: "Redriven", message: "all sent" }, 1, t2);
    expect(done).to.deep.include({
      phase: "Done",
      sent: 2,
      startTime: t1.toISOString(),
      completionTime: t2.toISOString(),
    });
    expect(done.conditions?.map(({ type, status, reason }) => [type, status, reason])).to.deep.equal([
      ["Complete", "True", "Redriven"],
      ["Failed", "False", "NotFailed"],
    ]);
    const failed = redriveStatus(
      undefined,
      { phase: "Failed", reason: "PipelineNotFound", message: "gone" },
      1,
      t2,
    );
    expect(failed.conditions?.find(({ type }) => type === "Failed")).to.include({
      status: "True",
      reason: "PipelineNotFound",
    });
  });
});

describe("redrive pacing", () => {
  it("sends chunks of a tenth of a second's worth, at least one and at most 500", () => {
    expect([1, 9, 10, 50, 10_000].map(chunkSizeFor)).to.deep.equal([1, 1, 1, 5, 500]);
  });

  it("spaces records 1/rate apart, and a stall does not turn into a burst beyond one chunk", () => {
    const pacer = new Pacer(10, 0);
    expect(pacer.delayMs(1, 0)).to.equal(0);
    pacer.sent(1);
    expect(pacer.delayMs(1, 20)).to.equal(80);
    pacer.sent(1);
    expect(pacer.delayMs(1, 200)).to.equal(0);
    pacer.sent(1);
    // Stalled for a second: the next goes at once, the one after waits its full 100 ms again.
    expect(pacer.delayMs(1, 1_300)).to.equal(0);
    pacer.sent(1);
    expect(pacer.delayMs(1, 1_300)).to.equal(100);
  });
});
