import { expect } from "chai";
import { lagMetric } from "../../../operator/src/autoscaling/lag-metric.ts";
import { decideScaleToZero, type ScaleToZeroInput } from "../../../operator/src/autoscaling/scale-to-zero.ts";
import { consumerLag } from "../../../operator/src/kafka/lag.ts";

const lagOf = (lags: number[]) =>
  consumerLag(
    lags.map((lag, partition) => ({ partition, logStartOffset: 0, logEndOffset: lag, committedOffset: 0 })),
  );

describe("lag metric for the HPA", () => {
  it("is the plain lag while every partition is within one worker's worth", () => {
    expect(lagMetric(lagOf([100, 200, 0, 700]), 1000)).to.deep.equal({
      value: 1000,
      total: 1000,
      saturatedPartitions: [],
    });
  });

  it("counts a partition at most one worker's worth: a skewed or stuck partition asks for one worker", () => {
    const metric = lagMetric(lagOf([1_000_000, 0, 0, 0, 0, 0, 0, 0]), 1000);
    expect(metric).to.deep.equal({ value: 1000, total: 1_000_000, saturatedPartitions: [0] });
  });

  it("asks for one worker per lagging partition when all are far behind", () => {
    expect(lagMetric(lagOf(Array(8).fill(50_000)), 1000).value).to.equal(8000);
  });
});

describe("scale to zero", () => {
  const minute = 60_000;
  const base: ScaleToZeroInput = {
    minReplicas: 0,
    activationLagThreshold: 0,
    cooldownMs: 5 * minute,
    replicas: 2,
    lag: 0,
    lastActiveAt: 0,
    now: 10 * minute,
  };

  it("scales to zero once the lag has been 0 for the cooldown", () => {
    expect(decideScaleToZero(base)).to.include({ replicas: 0, reason: "no lag for 300 s" });
    expect(decideScaleToZero({ ...base, lastActiveAt: 6 * minute }).replicas).to.equal(undefined);
  });

  it("keeps a pipeline with lag running and remembers when it was last active", () => {
    expect(decideScaleToZero({ ...base, lag: 5 })).to.deep.equal({
      replicas: undefined,
      reason: "active",
      lastActiveAt: 10 * minute,
    });
  });

  it("wakes to one replica when the lag passes the activation threshold, and not before", () => {
    expect(decideScaleToZero({ ...base, replicas: 0, lag: 1 }).replicas).to.equal(1);
    expect(
      decideScaleToZero({ ...base, replicas: 0, lag: 50, activationLagThreshold: 100 }).replicas,
    ).to.equal(undefined);
  });

  it("never acts on a lag it could not read", () => {
    expect(decideScaleToZero({ ...base, lag: undefined }).replicas).to.equal(undefined);
    expect(decideScaleToZero({ ...base, replicas: 0, lag: undefined }).replicas).to.equal(undefined);
  });

  it("hands a Deployment at zero back to the HPA when scale to zero is switched off", () => {
    expect(decideScaleToZero({ ...base, minReplicas: 2, replicas: 0 }).replicas).to.equal(2);
    expect(decideScaleToZero({ ...base, minReplicas: 1 }).replicas).to.equal(undefined);
  });

  it("starts the cooldown when it first sees the pipeline", () => {
    expect(decideScaleToZero({ ...base, lastActiveAt: undefined })).to.include({
      replicas: undefined,
      lastActiveAt: 10 * minute,
    });
  });
});
