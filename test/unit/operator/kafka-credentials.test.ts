import { expect } from "chai";
import { workersLoginFields } from "../../../operator/src/kafka/client.ts";
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

/** The login fields of the workers' own settings, which every login not from spec.kafka.admin carries. */
const workersLogin = { loginFields: workersLoginFields };

describe("operator Kafka credentials", () => {
  it("needs nothing without tls or sasl", async () => {
    expect(await resolveKafkaCredentials(pipelineWith({}), read)).to.deep.equal({
      ok: true,
      credentials: workersLogin,
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
        ...workersLogin,
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
    expect(resolved).to.deep.equal({ ok: true, credentials: { ssl: {}, ...workersLogin } });
  });

  describe("spec.kafka.admin: the operator's own login", () => {
    const spec = {
      tls: { caSecretRef: { name: "kafka-ca" }, certSecretRef: { name: "client" } },
      sasl: { secretRef: { name: "user" } },
      admin: { sasl: { mechanism: "scram-sha-256" as const, secretRef: { name: "operator" } } },
    };
    const withOperator: Record<string, Record<string, Buffer>> = {
      ...secrets,
      "team/operator": { username: Buffer.from("op"), password: Buffer.from("0p") },
      "team/operator-cert": { "tls.crt": Buffer.from("OP CERT"), "tls.key": Buffer.from("OP KEY") },
    };
    const readAll: SecretReader = async (namespace, name) => withOperator[`${namespace}/${name}`];

    it("replaces the workers' SASL login for the operator; the workers keep theirs", async () => {
      const operator = await resolveKafkaCredentials(pipelineWith(spec), readAll, "operator");
      expect(operator.ok && operator.credentials.sasl).to.deep.equal({
        mechanism: "scram-sha-256",
        username: "op",
        password: "0p",
      });
      const workers = await resolveKafkaCredentials(pipelineWith(spec), readAll, "workers");
      expect(workers.ok && workers.credentials.sasl).to.include({ username: "alice" });
    });

    it("replaces the client certificate when it names one, and the SASL login goes with it", async () => {
      const operator = await resolveKafkaCredentials(
        pipelineWith({ ...spec, admin: { certSecretRef: { name: "operator-cert" } } }),
        readAll,
        "operator",
      );
      expect(operator).to.deep.equal({
        ok: true,
        credentials: {
          ssl: { ca: [Buffer.from("CA PEM")], cert: Buffer.from("OP CERT"), key: Buffer.from("OP KEY") },
          loginFields: { sasl: "spec.kafka.admin.sasl", certificate: "spec.kafka.admin.certSecretRef" },
        },
      });
    });

    it("names its own field when its Secret is missing", async () => {
      const operator = await resolveKafkaCredentials(pipelineWith(spec), read, "operator");
      expect(!operator.ok && operator.message).to.equal(
        "spec.kafka.admin.sasl.secretRef names Secret team/operator, which does not exist",
      );
    });
  });
});
