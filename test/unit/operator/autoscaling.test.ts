import { expect } from "chai";
import { lagMetric } from "../../../operator/src/autoscaling/lag-metric.ts";
import {
  type Activity,
  type ActivitySample,
  decideScaleToZero,
  observeActivity,
  type ScaleToZeroInput,
} from "../../../operator/src/autoscaling/scale-to-zero.ts";
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
  const idleSince: Activity = { lastActiveAt: 0, logEndOffset: 40 };
  const base: ScaleToZeroInput = {
    paused: false,
    minReplicas: 0,
    activationLagThreshold: 0,
    cooldownMs: 5 * minute,
    replicas: 2,
    lag: 0,
    activity: idleSince,
    now: 10 * minute,
  };

  /**
   * Samples taken every 30 s, as the reconcile takes them, folded and decided in turn with the replicas each
   * decision leaves; returns the replicas after each sample.
   */
  function replay(samples: readonly ActivitySample[], replicas = 1): number[] {
    let activity: Activity | undefined;
    return samples.map((sample, i) => {
      const now = i * 30_000;
      activity = observeActivity(activity, sample, now);
      const decision = decideScaleToZero({ ...base, replicas, lag: sample.lag, activity, now });
      replicas = decision.replicas ?? replicas;
      return replicas;
    });
  }

  it("never scales a steady trickle to zero, though nearly every sample sees no lag", () => {
    // A request every 30 s, consumed within a moment: lag 0 at all but every tenth sample.
    const trickle = Array.from({ length: 100 }, (_, i) => ({ lag: i % 10 === 0 ? 1 : 0, logEndOffset: i }));
    expect(replay(trickle).every((replicas) => replicas === 1)).to.equal(true);
  });

  it("scales to zero after the cooldown of true idleness, counted from the last new request", () => {
    // Requests until the sample at 2 min, then none: zero at 7 min, the first sample 5 min after it.
    const samples = Array.from({ length: 20 }, (_, i) => ({ lag: 0, logEndOffset: Math.min(i, 4) }));
    const replicas = replay(samples);
    expect(replicas.indexOf(0)).to.equal(14);
    expect(replicas.slice(14).every((r) => r === 0)).to.equal(true);
  });

  it("wakes on a new request at zero, and counts the cooldown again from there", () => {
    const idle = (logEndOffset: number, length: number) =>
      Array.from({ length }, () => ({ lag: 0, logEndOffset }));
    const replicas = replay([...idle(7, 12), { lag: 1, logEndOffset: 8 }, ...idle(8, 12)]);
    expect(replicas.slice(10, 13)).to.deep.equal([0, 0, 1]);
    // Back to zero only a whole cooldown (10 samples) after the wake-up sample.
    expect(replicas.indexOf(0, 12)).to.equal(22);
  });

  it("counts a sample with lag as active even when the log end offset did not move", () => {
    const activity = observeActivity(idleSince, { lag: 3, logEndOffset: 40 }, 10 * minute);
    expect(activity).to.deep.equal({ lastActiveAt: 10 * minute, logEndOffset: 40 });
    expect(decideScaleToZero({ ...base, lag: 3, activity }).replicas).to.equal(undefined);
  });

  it("starts the cooldown when it first sees the pipeline, and keeps the activity on an unread sample", () => {
    expect(observeActivity(undefined, { lag: 0, logEndOffset: 40 }, 10 * minute)).to.deep.equal({
      lastActiveAt: 10 * minute,
      logEndOffset: 40,
    });
    expect(observeActivity(idleSince, undefined, 10 * minute)).to.equal(idleSince);
  });

  it("scales to zero once the pipeline has been idle for the cooldown", () => {
    expect(decideScaleToZero(base)).to.include({
      replicas: 0,
      reason: "no new requests and no lag for 300 s",
    });
    const recent = { ...idleSince, lastActiveAt: 6 * minute };
    expect(decideScaleToZero({ ...base, activity: recent }).replicas).to.equal(undefined);
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

  describe("while paused", () => {
    const paused = { ...base, paused: true };

    it("scales the workers to 0 from any scale, whether or not the lag could be read", () => {
      for (const minReplicas of [0, 2]) {
        for (const lag of [0, 5000, undefined]) {
          expect(
            decideScaleToZero({ ...paused, minReplicas, replicas: 3, lag }),
            `${minReplicas} ${lag}`,
          ).to.deep.equal({ replicas: 0, reason: "the pipeline is paused" });
        }
      }
    });

    it("never wakes a paused pipeline at 0, however far behind, nor hands it to the HPA", () => {
      expect(decideScaleToZero({ ...paused, replicas: 0, lag: 1_000_000 }).replicas).to.equal(undefined);
      expect(decideScaleToZero({ ...paused, minReplicas: 2, replicas: 0 }).replicas).to.equal(undefined);
    });

    it("restores autoscaling once resumed: the HPA's floor, or 0 and a wake-up on lag with minReplicas 0", () => {
      expect(decideScaleToZero({ ...base, minReplicas: 2, replicas: 0, lag: 9 }).replicas).to.equal(2);
      expect(decideScaleToZero({ ...base, replicas: 0, lag: 0 }).replicas).to.equal(undefined);
      expect(decideScaleToZero({ ...base, replicas: 0, lag: 9 }).replicas).to.equal(1);
    });
  });
});
