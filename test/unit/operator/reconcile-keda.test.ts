import { ApiException } from "@kubernetes/client-node";
import { expect } from "chai";
import { Reconciler } from "../../../operator/src/controller/reconcile.ts";
import type { PipelineSpec } from "../../../operator/src/pipeline.ts";
import { conditionOf, FakeCluster, pipelineObject } from "./fake-cluster.ts";

const keda: Partial<PipelineSpec> = { autoscaling: { provider: "keda", minReplicas: 0, maxReplicas: 4 } };
const owner = {
  apiVersion: "kubesentiment.io/v1alpha1",
  kind: "SentimentPipeline",
  name: "reviews",
  uid: "uid-1",
};
const ownedMeta = { name: "reviews-worker", namespace: "shop", ownerReferences: [owner] };

const readyAndActive = {
  conditions: [
    {
      type: "Ready",
      status: "True",
      reason: "ScaledObjectReady",
      message: "ScaledObject is defined correctly",
    },
    {
      type: "Active",
      status: "True",
      reason: "ScalerActive",
      message: "Scaling is performed because triggers are active",
    },
  ],
};

describe("operator reconcile with KEDA", () => {
  let cluster: FakeCluster;
  beforeEach(() => {
    cluster = new FakeCluster();
  });
  const reconcile = (key: string, kedaEnabled = true) =>
    new Reconciler(cluster.deps(kedaEnabled ? { keda: cluster.kedaCaches() } : {})).reconcile(key);

  it("applies a ScaledObject instead of the HPA, deletes the HPA it owned, and reports KEDA's conditions", async () => {
    const key = cluster.add(pipelineObject(keda));
    cluster.hpas.set("shop/reviews-worker", { metadata: ownedMeta });
    cluster.scaledObjectStatus = readyAndActive;

    await reconcile(key);
    expect(cluster.did.slice(1, 5)).to.deep.equal([
      "apply Deployment shop/reviews-worker",
      "apply Service shop/reviews-worker",
      "delete HorizontalPodAutoscaler shop/reviews-worker",
      "apply ScaledObject shop/reviews-worker",
    ]);
    expect(conditionOf(cluster.statuses[0], "AutoscalingActive")).to.include({
      status: "True",
      reason: "ScalerActive",
      message:
        "KEDA scales the workers through ScaledObject reviews-worker: Ready (ScaledObjectReady: ScaledObject is defined correctly); Active True (ScalerActive: Scaling is performed because triggers are active)",
    });
  });

  it("leaves scale to zero to KEDA: never scales the Deployment itself unless paused", async () => {
    const key = cluster.add(pipelineObject(keda));
    cluster.kafka.ensured = {
      ...cluster.kafka.ensured,
      lag: { total: 0, logEndOffset: 40, partitions: [], partitionsWithoutCommit: [] },
    };
    await reconcile(key);
    expect(cluster.did.filter((line) => line.startsWith("scale"))).to.deep.equal([]);
  });

  it("holds a paused pipeline at 0 with KEDA's pause annotation and its own scale", async () => {
    const key = cluster.add(pipelineObject({ ...keda, paused: true }));
    await reconcile(key);
    expect(cluster.did).to.include("scale shop/reviews-worker to 0");
    const scaledObject = cluster.others.get("ScaledObject shop/reviews-worker");
    expect(scaledObject?.metadata?.annotations).to.include({ "autoscaling.keda.sh/paused-replicas": "0" });
  });

  it("switching back to builtin applies the HPA and deletes the ScaledObject and TriggerAuthentication it owned", async () => {
    const key = cluster.add(pipelineObject());
    for (const kind of ["ScaledObject", "TriggerAuthentication"]) {
      cluster.others.set(`${kind} shop/reviews-worker`, {
        apiVersion: "keda.sh/v1alpha1",
        kind,
        metadata: ownedMeta,
      });
    }
    await reconcile(key);
    expect(cluster.did).to.include.members([
      "apply HorizontalPodAutoscaler shop/reviews-worker",
      "delete ScaledObject shop/reviews-worker",
      "delete TriggerAuthentication shop/reviews-worker",
    ]);
    expect(cluster.others.size).to.equal(0);
  });

  it("costs a builtin pipeline no request to KEDA's API when the caches hold nothing of it", async () => {
    const key = cluster.add(pipelineObject());
    await reconcile(key);
    expect(cluster.did.filter((line) => /ScaledObject|TriggerAuthentication/.test(line))).to.deep.equal([]);
    expect(cluster.did).to.include("apply HorizontalPodAutoscaler shop/reviews-worker");
  });

  it("never deletes a ScaledObject the pipeline does not own", async () => {
    const key = cluster.add(pipelineObject());
    const usersOwn = { name: "reviews-worker", namespace: "shop" };
    cluster.others.set("ScaledObject shop/reviews-worker", {
      apiVersion: "keda.sh/v1alpha1",
      kind: "ScaledObject",
      metadata: usersOwn,
    });
    await reconcile(key);
    expect(cluster.did).to.not.include("delete ScaledObject shop/reviews-worker");
  });

  it("touches no KEDA object while KEDA is not enabled, and says how to enable it", async () => {
    const key = cluster.add(pipelineObject(keda));
    await reconcile(key, false);
    expect(cluster.did.filter((line) => /ScaledObject|TriggerAuthentication/.test(line))).to.deep.equal([]);
    expect(conditionOf(cluster.statuses[0], "AutoscalingActive")).to.include({
      status: "False",
      reason: "KedaNotEnabled",
    });
    expect(conditionOf(cluster.statuses[0], "AutoscalingActive")?.message).to.include("keda.enabled=true");

    const builtin = cluster.add(pipelineObject({}, { name: "plain", uid: "uid-2" }));
    await reconcile(builtin, false);
    expect(cluster.did.filter((line) => /ScaledObject|TriggerAuthentication/.test(line))).to.deep.equal([]);
  });

  it("says KEDA is not installed when the API server serves no ScaledObject, and keeps the workers", async () => {
    const key = cluster.add(pipelineObject(keda));
    const objects = cluster.deps().objects;
    const deps = cluster.deps({
      keda: cluster.kedaCaches(),
      objects: {
        ...objects,
        patch: async (object) => {
          if (object.apiVersion === "keda.sh/v1alpha1") throw new ApiException(404, "not found", {}, {});
          return objects.patch(object);
        },
      },
    });
    expect(await new Reconciler(deps).reconcile(key)).to.deep.include({ kind: "resync" });
    const status = cluster.statuses[0];
    expect(conditionOf(status, "AutoscalingActive")).to.include({
      status: "False",
      reason: "KedaNotInstalled",
    });
    expect(conditionOf(status, "AutoscalingActive")?.message).to.include(
      "the API server serves no keda.sh/v1alpha1 ScaledObject",
    );
    expect(conditionOf(status, "WorkersAvailable")).to.include({ status: "True" });
  });
});
