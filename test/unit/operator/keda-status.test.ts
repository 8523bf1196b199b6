import { expect } from "chai";
import { kedaAutoscalingCondition } from "../../../operator/src/controller/keda-status.ts";
import type { KedaCondition, ScaledObject } from "../../../operator/src/render/scaled-object.ts";

const applied = (conditions: KedaCondition[] | undefined) => ({
  state: "applied" as const,
  scaledObject: {
    metadata: { name: "reviews-worker" },
    ...(conditions === undefined ? {} : { status: { conditions } }),
  } as ScaledObject,
});
const ready: KedaCondition = {
  type: "Ready",
  status: "True",
  reason: "ScaledObjectReady",
  message: "ScaledObject is defined correctly and is ready for scaling",
};

describe("operator status: AutoscalingActive from KEDA's conditions", () => {
  it("waits for KEDA before it has said anything", () => {
    expect(kedaAutoscalingCondition(applied(undefined), "")).to.deep.equal({
      type: "AutoscalingActive",
      status: "Unknown",
      reason: "AwaitingKeda",
      message: "KEDA has not reported ScaledObject reviews-worker Ready yet",
    });
  });

  it("is False with KEDA's reason when KEDA says the ScaledObject is not Ready", () => {
    const notReady: KedaCondition = {
      type: "Ready",
      status: "False",
      reason: "ScaledObjectCheckFailed",
      message: "error parsing kafka metadata: no bootstrapServers given",
    };
    expect(kedaAutoscalingCondition(applied([notReady]), "")).to.deep.equal({
      type: "AutoscalingActive",
      status: "False",
      reason: "ScaledObjectCheckFailed",
      message:
        "KEDA reports ScaledObject reviews-worker not Ready: ScaledObjectCheckFailed: error parsing kafka metadata: no bootstrapServers given",
    });
  });

  it("is False while KEDA holds the ScaledObject paused", () => {
    const paused: KedaCondition = {
      type: "Paused",
      status: "True",
      reason: "ScaledObjectPaused",
      message: "ScaledObject is paused",
    };
    expect(kedaAutoscalingCondition(applied([ready, paused]), "")).to.include({
      status: "False",
      reason: "ScaledObjectPaused",
      message: "KEDA holds ScaledObject reviews-worker paused: ScaledObjectPaused: ScaledObject is paused",
    });
  });

  it("is True once Ready, naming KEDA's Active reason, and ends with the partition note", () => {
    const idle: KedaCondition = {
      type: "Active",
      status: "False",
      reason: "ScalerNotActive",
      message: "Scaling is not performed because triggers are not active",
    };
    expect(kedaAutoscalingCondition(applied([ready, idle]), "; at most 4 replicas")).to.deep.equal({
      type: "AutoscalingActive",
      status: "True",
      reason: "ScalerNotActive",
      message:
        "KEDA scales the workers through ScaledObject reviews-worker: Ready (ScaledObjectReady: ScaledObject is defined correctly and is ready for scaling); Active False (ScalerNotActive: Scaling is not performed because triggers are not active); at most 4 replicas",
    });
  });

  it("says the ScaledObject is missing before it was applied", () => {
    expect(kedaAutoscalingCondition(undefined, "")).to.include({
      status: "False",
      reason: "ScaledObjectMissing",
    });
  });
});
