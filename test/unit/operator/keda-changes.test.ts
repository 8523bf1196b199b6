import { expect } from "chai";
import { scaledObjectAspect } from "../../../operator/src/controller/keda-changes.ts";
import { AspectChanges } from "../../../operator/src/kube/aspect-changes.ts";
import type { KedaCondition, ScaledObject } from "../../../operator/src/render/scaled-object.ts";

const ready: KedaCondition = { type: "Ready", status: "True", reason: "ScaledObjectReady", message: "ok" };
const active: KedaCondition = { type: "Active", status: "True", reason: "ScalerActive", message: "active" };

function scaledObject(
  conditions: KedaCondition[],
  change: { generation?: number; annotations?: Record<string, string>; lastActiveTime?: string } = {},
): ScaledObject {
  return {
    apiVersion: "keda.sh/v1alpha1",
    kind: "ScaledObject",
    metadata: {
      name: "reviews-worker",
      namespace: "shop",
      generation: change.generation ?? 1,
      labels: { "kubesentiment.io/pipeline": "reviews" },
      ...(change.annotations === undefined ? {} : { annotations: change.annotations }),
      ownerReferences: [
        { apiVersion: "kubesentiment.io/v1alpha1", kind: "SentimentPipeline", name: "reviews", uid: "uid-1" },
      ],
    },
    spec: {} as ScaledObject["spec"],
    status: {
      conditions,
      ...(change.lastActiveTime === undefined ? {} : { lastActiveTime: change.lastActiveTime }),
    },
  } as ScaledObject;
}

describe("operator watch: which ScaledObject changes queue its pipeline", () => {
  it("KEDA's conditions, the spec, annotations, an arrival and a deletion; not KEDA's lastActiveTime", () => {
    const changes = new AspectChanges<ScaledObject>(scaledObjectAspect);
    const inactive = { ...active, status: "False" as const, reason: "ScalerNotActive" };
    expect(changes.changed(scaledObject([]), true), "arrived").to.equal(true);
    expect(changes.changed(scaledObject([ready]), true), "Ready").to.equal(true);
    expect(changes.changed(scaledObject([ready, active]), true), "Active").to.equal(true);
    expect(
      changes.changed(scaledObject([ready, active], { lastActiveTime: "2026-12-03T17:00:00Z" }), true),
      "lastActiveTime",
    ).to.equal(false);
    expect(
      changes.changed(scaledObject([ready, active], { lastActiveTime: "2026-12-03T17:00:30Z" }), true),
      "lastActiveTime again",
    ).to.equal(false);
    expect(changes.changed(scaledObject([ready, inactive]), true), "Active False").to.equal(true);
    expect(changes.changed(scaledObject([ready, inactive], { generation: 2 }), true), "spec edited").to.equal(
      true,
    );
    expect(
      changes.changed(scaledObject([ready, inactive], { generation: 2, annotations: { a: "b" } }), true),
      "annotated",
    ).to.equal(true);
    expect(changes.changed(scaledObject([ready, inactive]), false), "deleted").to.equal(true);
    expect(changes.changed(scaledObject([]), true), "created again").to.equal(true);
  });
});
