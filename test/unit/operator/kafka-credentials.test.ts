import { expect } from "chai";
import { resolveKafkaCredentials, type SecretReader } from "../../../operator/src/kafka/credentials.ts";
import { type PipelineSpec, resolvePipeline } from "../../../operator/src/pipeline.ts";

const pipelineWith = (kafka: Partial<PipelineSpec["kafka"]>) =>
  resolvePipeline({
    apiVersion: "kubesentiment.io/v1alpha1",
    kind: "SentimentPipeline",
    metadata: { name: "p", namespace: "team" },
    spec: { kafka: { bootstrapServers: ["k:9093"], ...kafka } },
  });

const secrets: Record<string, Record<string, Buffer>> = {
  "team/kafka-ca": { "ca.crt": Buffer.from("CA PEM") },
  "team/client": { "tls.crt": Buffer.from("CERT"), "tls.key": Buffer.from("KEY") },
  "team/user": { username: Buffer.from("alice"), password: Buffer.from("s3cret") },
  "team/half": { username: Buffer.from("bob") },
};
const read: SecretReader = async (namespace, name) => secrets[`${namespace}/${name}`];

describe("operator Kafka credentials", () => {
  it("needs nothing without tls or sasl", async () => {
    expect(await resolveKafkaCredentials(pipelineWith({}), read)).to.deep.equal({
      ok: true,
      credentials: {},
    });
  });

  it("reads the CA, the client certificate and SCRAM credentials from their Secrets", async () => {
    const resolved = await resolveKafkaCredentials(
      pipelineWith({
        tls: { caSecretRef: { name: "kafka-ca" }, certSecretRef: { name: "client" } },
        sasl: { mechanism: "scram-sha-512", secretRef: { name: "user" } },
      }),
      read,
    );
    expect(resolved).to.deep.equal({
      ok: true,
      credentials: {
        ssl: { ca: [Buffer.from("CA PEM")], cert: Buffer.from("CERT"), key: Buffer.from("KEY") },
        sasl: { mechanism: "scram-sha-512", username: "alice", password: "s3cret" },
      },
    });
  });

  it("names the field and the Secret that does not exist", async () => {
    const resolved = await resolveKafkaCredentials(
      pipelineWith({ sasl: { secretRef: { name: "nobody" } } }),
      read,
    );
    expect(resolved).to.deep.equal({
      ok: false,
      reason: "SecretNotFound",
      message: "spec.kafka.sasl.secretRef names Secret team/nobody, which does not exist",
    });
  });

  it("names the missing key, never a value", async () => {
    const resolved = await resolveKafkaCredentials(
      pipelineWith({ sasl: { secretRef: { name: "half" } } }),
      read,
    );
    expect(resolved).to.deep.equal({
      ok: false,
      reason: "SecretKeyMissing",
      message: "Secret team/half (spec.kafka.sasl.secretRef) has no key password",
    });
    expect(JSON.stringify(resolved)).to.not.include("bob");
  });

  it("uses plain TLS with the system CAs when only tls is on", async () => {
    const resolved = await resolveKafkaCredentials(pipelineWith({ tls: {} }), read);
    expect(resolved).to.deep.equal({ ok: true, credentials: { ssl: {} } });
  });
});
