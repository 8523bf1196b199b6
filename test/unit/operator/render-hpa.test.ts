import type { V2HorizontalPodAutoscalerBehavior } from "@kubernetes/client-node";
import { expect } from "chai";
import { lagMetricName } from "../../../operator/src/autoscaling/lag-metric.ts";
import type { PipelineSpec } from "../../../operator/src/pipeline.ts";
import { renderWorkerHpa, replicaBounds } from "../../../operator/src/render/hpa.ts";
import { workerObjectMeta } from "../../../operator/src/render/labels.ts";
import { customSpec, defaultSpec, pipelineOf } from "./render-fixtures.ts";

/**
 * The sizes the HPA controller sets on its way from `from` to a steady recommendation `to`, one decision a period
 * apart, as its rate limits allow (kube-controller-manager's calculateScale{Up,Down}LimitWithScalingRules): Pods
 * allows the period's starting size ± value, Percent ± value% of it, and selectPolicy Max takes the policy that
 * allows the biggest change.
 */
function stepsToReach(behavior: V2HorizontalPodAutoscalerBehavior, from: number, to: number): number[] {
  const up = to > from;
  const rules = (up ? behavior.scaleUp : behavior.scaleDown) ?? {};
  const limitFrom = (current: number) => {
    const limits = (rules.policies ?? []).map((policy) => {
      const sign = up ? 1 : -1;
      return policy.type === "Pods"
        ? current + sign * policy.value
        : (up ? Math.ceil : Math.floor)(current * (1 + (sign * policy.value) / 100));
    });
    const chooseMostChange = (rules.selectPolicy ?? "Max") === "Max";
    return up === chooseMostChange ? Math.max(...limits) : Math.min(...limits);
  };
  const steps: number[] = [];
  for (let current = from; current !== to && steps.length < 10; ) {
    current = up ? Math.min(to, limitFrom(current)) : Math.max(to, limitFrom(current));
    steps.push(current);
  }
  return steps;
}

function withAutoscaling(
  autoscaling: NonNullable<PipelineSpec["autoscaling"]>,
  partitions = 8,
): PipelineSpec {
  return { ...defaultSpec, topics: { partitions }, autoscaling };
}

describe("render: worker HPA", () => {
  it("scales the worker Deployment on the pipeline's External lag metric, lagThreshold per replica", () => {
    const pipeline = pipelineOf(defaultSpec);
    const hpa = renderWorkerHpa(pipeline);
    expect(hpa.apiVersion).to.equal("autoscaling/v2");
    expect(hpa.kind).to.equal("HorizontalPodAutoscaler");
    expect(hpa.metadata).to.deep.equal(workerObjectMeta(pipeline));
    expect(hpa.spec?.scaleTargetRef).to.deep.equal({
      apiVersion: "apps/v1",
      kind: "Deployment",
      name: "reviews-worker",
    });
    expect(hpa.spec?.minReplicas).to.equal(1);
    expect(hpa.spec?.maxReplicas).to.equal(8);
    expect(lagMetricName).to.equal("kubesentiment_consumer_lag");
    expect(hpa.spec?.metrics).to.deep.equal([
      {
        type: "External",
        external: {
          metric: {
            name: "kubesentiment_consumer_lag",
            selector: {
              matchLabels: { "kubesentiment.io/pipeline": "reviews", "kubesentiment.io/namespace": "shop" },
            },
          },
          target: { type: "AverageValue", averageValue: "1000" },
        },
      },
    ]);
    expect(JSON.parse(JSON.stringify(hpa))).to.deep.equal(hpa);
  });

  it("takes the customised bounds and threshold", () => {
    const hpa = renderWorkerHpa(pipelineOf(customSpec));
    expect(hpa.spec?.minReplicas).to.equal(2);
    expect(hpa.spec?.maxReplicas).to.equal(10);
    expect(hpa.spec?.metrics?.[0]?.external?.target).to.deep.equal({
      type: "AverageValue",
      averageValue: "250",
    });
  });

  it("scales up at once and down only after a 5-minute stabilization window", () => {
    const behavior = renderWorkerHpa(pipelineOf(defaultSpec)).spec?.behavior;
    expect(behavior?.scaleUp?.stabilizationWindowSeconds).to.equal(0);
    expect(behavior?.scaleUp?.selectPolicy).to.equal("Max");
    expect(behavior?.scaleDown?.stabilizationWindowSeconds).to.equal(300);
    for (const policy of [...(behavior?.scaleUp?.policies ?? []), ...(behavior?.scaleDown?.policies ?? [])]) {
      expect(policy.type).to.be.oneOf(["Pods", "Percent"]);
      expect(policy.value).to.be.above(0);
      expect(policy.periodSeconds).to.be.within(1, 1800);
    }
  });

  it("reaches the size one scaling decision asks for in one step, up or down: each step is a rebalance", () => {
    for (const [partitions, from, to] of [
      [8, 1, 8],
      [32, 1, 32],
      [32, 3, 20],
      [8, 8, 1],
      [32, 32, 2],
    ] as const) {
      const pipeline = pipelineOf(withAutoscaling({ minReplicas: 1, maxReplicas: partitions }, partitions));
      const behavior = renderWorkerHpa(pipeline).spec?.behavior ?? {};
      expect(stepsToReach(behavior, from, to), `${from} → ${to} of at most ${partitions}`).to.deep.equal([
        to,
      ]);
    }
  });

  describe("replica bounds", () => {
    it("caps maxReplicas at the partition count and reports that the cap applies", () => {
      const pipeline = pipelineOf(withAutoscaling({ minReplicas: 1, maxReplicas: 20 }, 6));
      expect(replicaBounds(pipeline)).to.deep.equal({
        minReplicas: 1,
        maxReplicas: 6,
        cappedByPartitions: true,
      });
      expect(renderWorkerHpa(pipeline).spec?.maxReplicas).to.equal(6);
    });

    it("reports no cap when maxReplicas fits the partitions, including exactly", () => {
      for (const maxReplicas of [4, 8]) {
        expect(replicaBounds(pipelineOf(withAutoscaling({ maxReplicas })))).to.deep.equal({
          minReplicas: 1,
          maxReplicas,
          cappedByPartitions: false,
        });
      }
    });

    it("holds at least one replica (an HPA cannot hold 0; scale-to-zero is the operator's)", () => {
      const pipeline = pipelineOf(withAutoscaling({ minReplicas: 0, maxReplicas: 4 }));
      expect(replicaBounds(pipeline).minReplicas).to.equal(1);
      expect(renderWorkerHpa(pipeline).spec?.minReplicas).to.equal(1);
    });

    it("keeps minReplicas within a capped maxReplicas", () => {
      const pipeline = pipelineOf(withAutoscaling({ minReplicas: 10, maxReplicas: 12 }, 4));
      expect(replicaBounds(pipeline)).to.deep.equal({
        minReplicas: 4,
        maxReplicas: 4,
        cappedByPartitions: true,
      });
    });
  });
});
