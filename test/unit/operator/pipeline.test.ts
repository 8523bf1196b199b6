import { expect } from "chai";
import { type PipelineSpec, resolvePipeline } from "../../../operator/src/pipeline.ts";

const kafkaOf = (kafka: Omit<PipelineSpec["kafka"], "bootstrapServers">) =>
  resolvePipeline({
    apiVersion: "kubesentiment.io/v1alpha1",
    kind: "SentimentPipeline",
    metadata: { name: "p", namespace: "team" },
    spec: { kafka: { bootstrapServers: ["k:9093"], ...kafka } },
  }).kafka;

describe("operator pipeline resolution: spec.kafka", () => {
  it("settles TLS and SASL to undefined when the spec has neither", () => {
    expect(kafkaOf({})).to.deep.equal({ bootstrapServers: ["k:9093"], tls: undefined, sasl: undefined });
  });

  it("settles TLS to undefined when it is switched off, whatever else it names", () => {
    expect(kafkaOf({ tls: { enabled: false, caSecretRef: { name: "ca" } } }).tls).to.equal(undefined);
  });

  it("gives the CA key and the SASL mechanism their defaults, and keeps what the spec sets", () => {
    expect(
      kafkaOf({
        tls: { caSecretRef: { name: "ca" }, certSecretRef: { name: "client" } },
        sasl: { secretRef: { name: "user" } },
      }),
    ).to.deep.equal({
      bootstrapServers: ["k:9093"],
      tls: { caSecretRef: { name: "ca", key: "ca.crt" }, certSecretRef: { name: "client" } },
      sasl: { mechanism: "scram-sha-512", secretRef: { name: "user" } },
    });
    expect(
      kafkaOf({
        tls: { enabled: true, caSecretRef: { name: "ca", key: "bundle.pem" } },
        sasl: { mechanism: "scram-sha-256", secretRef: { name: "user" } },
      }),
    ).to.deep.include({
      tls: { caSecretRef: { name: "ca", key: "bundle.pem" }, certSecretRef: undefined },
      sasl: { mechanism: "scram-sha-256", secretRef: { name: "user" } },
    });
  });
});
