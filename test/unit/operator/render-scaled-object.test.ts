import { expect } from "chai";
import type { PipelineSpec } from "../../../operator/src/pipeline.ts";
import { behavior } from "../../../operator/src/render/hpa.ts";
import { workerObjectMeta } from "../../../operator/src/render/labels.ts";
import {
  hpaExcludedLabelsAnnotation,
  pausedReplicasAnnotation,
  renderScaledObject,
  renderTriggerAuthentication,
} from "../../../operator/src/render/scaled-object.ts";
import { defaultSpec, pipelineOf } from "./render-fixtures.ts";

const keda = (autoscaling: NonNullable<PipelineSpec["autoscaling"]> = {}, partitions = 8): PipelineSpec => ({
  ...defaultSpec,
  topics: { partitions },
  autoscaling: { provider: "keda", ...autoscaling },
});

describe("render: KEDA ScaledObject", () => {
  it("scales the worker Deployment with KEDA's Kafka scaler on the pipeline's group, topic and lag rules", () => {
    const pipeline = pipelineOf(keda({ lagThreshold: 50, activationLagThreshold: 5 }));
    const scaledObject = renderScaledObject(pipeline, { paused: false });
    expect(scaledObject).to.deep.include({ apiVersion: "keda.sh/v1alpha1", kind: "ScaledObject" });
    expect(scaledObject.metadata).to.deep.equal({
      ...workerObjectMeta(pipeline),
      // KEDA's HPA says it is KEDA's, so the operator's watch of its own HPAs leaves it out.
      annotations: { [hpaExcludedLabelsAnnotation]: "app.kubernetes.io/managed-by" },
    });
    expect(scaledObject.spec.scaleTargetRef).to.deep.equal({
      apiVersion: "apps/v1",
      kind: "Deployment",
      name: "reviews-worker",
    });
    expect(scaledObject.spec.triggers).to.deep.equal([
      {
        type: "kafka",
        metadata: {
          bootstrapServers: "kafka-0.kafka:9092,kafka-1.kafka:9092",
          consumerGroup: "kubesentiment.shop.reviews",
          topic: "shop.reviews-requests",
          lagThreshold: "50",
          activationLagThreshold: "5",
          offsetResetPolicy: "earliest",
          allowIdleConsumers: "false",
          limitToPartitionsWithLag: "true",
          excludePersistentLag: "true",
        },
      },
    ]);
  });

  it("keeps the HPA's behavior, and the scale-to-zero cooldown as KEDA's cooldownPeriod", () => {
    const pipeline = pipelineOf(keda({ scaleToZeroAfterSeconds: 42, scaleDownStabilizationSeconds: 7 }));
    const { spec } = renderScaledObject(pipeline, { paused: false });
    expect(spec.cooldownPeriod).to.equal(42);
    expect(spec.advanced.horizontalPodAutoscalerConfig.behavior).to.deep.equal(
      behavior(pipeline, spec.maxReplicaCount),
    );
  });

  for (const [title, autoscaling, partitions, min, max] of [
    ["defaults", {}, 8, 1, 8],
    ["scale to zero: KEDA's floor may be 0", { minReplicas: 0, maxReplicas: 4 }, 8, 0, 4],
    ["more replicas than partitions: capped", { minReplicas: 2, maxReplicas: 20 }, 6, 2, 6],
    ["a floor above the partitions: held at the cap", { minReplicas: 9, maxReplicas: 20 }, 6, 6, 6],
  ] as const) {
    it(`bounds the replicas: ${title}`, () => {
      const { spec } = renderScaledObject(pipelineOf(keda(autoscaling, partitions)), { paused: false });
      expect([spec.minReplicaCount, spec.maxReplicaCount]).to.deep.equal([min, max]);
    });
  }

  it("pauses through KEDA's own annotation at 0 replicas, and drops it when resumed", () => {
    const pipeline = pipelineOf(keda());
    expect(renderScaledObject(pipeline, { paused: true }).metadata.annotations).to.include({
      [pausedReplicasAnnotation]: "0",
    });
    expect(renderScaledObject(pipeline, { paused: false }).metadata.annotations).to.not.have.property(
      pausedReplicasAnnotation,
    );
  });

  it("needs no TriggerAuthentication for a Kafka without credentials", () => {
    const pipeline = pipelineOf(keda());
    expect(renderTriggerAuthentication(pipeline)).to.equal(undefined);
    expect(renderScaledObject(pipeline, { paused: false }).spec.triggers[0]).to.not.have.property(
      "authenticationRef",
    );
  });

  it("passes SCRAM and TLS through a TriggerAuthentication naming the pipeline's own Secrets", () => {
    const pipeline = pipelineOf({
      ...keda(),
      kafka: {
        bootstrapServers: ["broker:9093"],
        tls: { caSecretRef: { name: "kafka-ca", key: "bundle.pem" }, certSecretRef: { name: "client-cert" } },
        sasl: { mechanism: "scram-sha-256", secretRef: { name: "kafka-user" } },
      },
    });
    const authentication = renderTriggerAuthentication(pipeline);
    expect(authentication?.metadata).to.deep.equal(workerObjectMeta(pipeline));
    expect(authentication?.spec.secretTargetRef).to.deep.equal([
      { parameter: "username", name: "kafka-user", key: "username" },
      { parameter: "password", name: "kafka-user", key: "password" },
      { parameter: "ca", name: "kafka-ca", key: "bundle.pem" },
      { parameter: "cert", name: "client-cert", key: "tls.crt" },
      { parameter: "key", name: "client-cert", key: "tls.key" },
    ]);
    const [trigger] = renderScaledObject(pipeline, { paused: false }).spec.triggers;
    expect(trigger?.authenticationRef).to.deep.equal({ name: "reviews-worker" });
    expect(trigger?.metadata).to.include({ sasl: "scram_sha256", tls: "enable" });
  });

  it("names SCRAM-SHA-512 as KEDA does, and TLS with the system's CAs needs no Secret", () => {
    const pipeline = pipelineOf({
      ...keda(),
      kafka: { bootstrapServers: ["broker:9093"], tls: {}, sasl: { secretRef: { name: "kafka-user" } } },
    });
    const [trigger] = renderScaledObject(pipeline, { paused: false }).spec.triggers;
    expect(trigger?.metadata).to.include({ sasl: "scram_sha512", tls: "enable" });
    expect(
      renderTriggerAuthentication(pipeline)?.spec.secretTargetRef.map((ref) => ref.parameter),
    ).to.deep.equal(["username", "password"]);
  });
});
