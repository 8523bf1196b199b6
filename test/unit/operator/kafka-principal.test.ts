import { readFileSync } from "node:fs";
import { join } from "node:path";
import { expect } from "chai";
import { rfc2253Subject, workerPrincipal } from "../../../operator/src/kafka/principal.ts";
import type { PipelineSpec } from "../../../operator/src/pipeline.ts";
import { pipelineOf } from "./render-fixtures.ts";

const withKafka = (kafka: Partial<PipelineSpec["kafka"]>) =>
  pipelineOf({ kafka: { bootstrapServers: ["k:9093"], ...kafka } });

describe("operator workers' Kafka principal", () => {
  it("is the explicit spec.kafka.acls.principal when given", () => {
    const pipeline = withKafka({ acls: { principal: "User:mapped" } });
    const sasl = { mechanism: "scram-sha-512" as const, username: "alice", password: "x" };
    expect(workerPrincipal(pipeline, { sasl })).to.deep.equal({ ok: true, principal: "User:mapped" });
  });

  it("is User: and the SCRAM username", () => {
    const sasl = { mechanism: "scram-sha-512" as const, username: "alice", password: "x" };
    expect(workerPrincipal(withKafka({}), { sasl })).to.deep.equal({ ok: true, principal: "User:alice" });
  });

  it("is User: and the client certificate's subject as Kafka spells it, last attribute first", () => {
    expect(rfc2253Subject("C=NL\nO=Acme\nOU=ml\nCN=worker")).to.equal("CN=worker,OU=ml,O=Acme,C=NL");
    const cert = readFileSync(join(import.meta.dirname, "fixtures", "client-cn-worker.crt"));
    expect(workerPrincipal(withKafka({}), { ssl: { cert } })).to.deep.equal({
      ok: true,
      principal: "User:CN=kubesentiment-worker,O=KubeSentiment",
    });
  });

  it("refuses to guess a subject that needs escaping or an OID, asking for the explicit field", () => {
    for (const subject of ["CN=a\\, b", "CN=a+UID=b", "emailAddress=a@b\nCN=w", "CN= padded"]) {
      expect(rfc2253Subject(subject), subject).to.equal(undefined);
    }
    const result = workerPrincipal(withKafka({}), { ssl: { cert: Buffer.from("not a certificate") } });
    expect(result.ok).to.equal(false);
    expect(!result.ok && result.message).to.include("spec.kafka.acls.principal");
  });

  it("says the workers have no login to derive it from", () => {
    const result = workerPrincipal(withKafka({}), {});
    expect(!result.ok && result.message)
      .to.include("spec.kafka.sasl")
      .and.include("spec.kafka.acls.principal");
  });
});
