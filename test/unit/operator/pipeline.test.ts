import { expect } from "chai";
import {
  InvalidPipelineError,
  type PipelineSpec,
  type PipelineStatus,
  resolvePipeline,
} from "../../../operator/src/pipeline.ts";

const kafkaOf = (kafka: Omit<PipelineSpec["kafka"], "bootstrapServers">) =>
  resolvePipeline({
    apiVersion: "kubesentiment.io/v1alpha1",
    kind: "SentimentPipeline",
    metadata: { name: "p", namespace: "team" },
    spec: { kafka: { bootstrapServers: ["k:9093"], ...kafka } },
  }).kafka;

describe("operator pipeline resolution: spec.kafka", () => {
  it("settles TLS, SASL and the operator's own login to undefined and ACLs to unmanaged when the spec has none", () => {
    expect(kafkaOf({})).to.deep.equal({
      bootstrapServers: ["k:9093"],
      tls: undefined,
      sasl: undefined,
      admin: undefined,
      acls: { manage: false, principal: undefined },
    });
  });

  it("gives the operator's own SASL login its default mechanism, and keeps the ACL settings", () => {
    expect(
      kafkaOf({
        admin: { sasl: { secretRef: { name: "operator" } } },
        acls: { manage: true, principal: "User:w" },
      }),
    ).to.deep.include({
      admin: {
        sasl: { mechanism: "scram-sha-512", secretRef: { name: "operator" } },
        certSecretRef: undefined,
      },
      acls: { manage: true, principal: "User:w" },
    });
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
    ).to.deep.include({
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

const modelSourceOf = (source: NonNullable<NonNullable<PipelineSpec["model"]>["source"]>) =>
  resolvePipeline({
    apiVersion: "kubesentiment.io/v1alpha1",
    kind: "SentimentPipeline",
    metadata: { name: "p", namespace: "team" },
    spec: { kafka: { bootstrapServers: ["k:9093"] }, model: { source } },
  }).model.source;

describe("operator pipeline resolution: spec.model.source", () => {
  const url = "https://models.internal/sst2.tar.gz";
  const sha256 = "ab".repeat(32);

  it("trusts only the public roots for a URL without caSecretRef", () => {
    expect(modelSourceOf({ url: { url, sha256 } })).to.deep.equal({
      kind: "url",
      url,
      sha256,
      caSecretRef: undefined,
    });
  });

  it("gives the URL's CA key its default, ca.crt, as spec.kafka.tls.caSecretRef does, and keeps a set one", () => {
    expect(modelSourceOf({ url: { url, sha256, caSecretRef: { name: "artifacts-ca" } } })).to.deep.include({
      caSecretRef: { name: "artifacts-ca", key: "ca.crt" },
    });
    expect(
      modelSourceOf({ url: { url, sha256, caSecretRef: { name: "artifacts-ca", key: "bundle.pem" } } }),
    ).to.deep.include({ caSecretRef: { name: "artifacts-ca", key: "bundle.pem" } });
  });
});

const topicsOf = (
  namespace: string,
  name: string,
  topics: PipelineSpec["topics"] = {},
  status: PipelineStatus | undefined = undefined,
) =>
  resolvePipeline({
    apiVersion: "kubesentiment.io/v1alpha1",
    kind: "SentimentPipeline",
    metadata: { name, namespace },
    spec: { kafka: { bootstrapServers: ["k:9093"] }, topics },
    ...(status === undefined ? {} : { status }),
  }).topics;

const names = ({
  requests,
  responses,
  deadLetter,
}: {
  requests: string;
  responses: string;
  deadLetter: string;
}) => [requests, responses, deadLetter];

describe("operator pipeline resolution: topic names", () => {
  it("gives two pipelines of one name in two namespaces topics of their own", () => {
    expect(names(topicsOf("team-a", "foo"))).to.deep.equal([
      "team-a.foo-requests",
      "team-a.foo-responses",
      "team-a.foo-dlq",
    ]);
    expect(names(topicsOf("team-b", "foo"))).to.deep.equal([
      "team-b.foo-requests",
      "team-b.foo-responses",
      "team-b.foo-dlq",
    ]);
  });

  it("never gives two namespace and name pairs that differ the same default names", () => {
    // With '-' as the separator both would be "a-b-c-requests".
    expect(topicsOf("a-b", "c").requests).to.not.equal(topicsOf("a", "b-c").requests);
  });

  it("keeps what the spec names", () => {
    expect(
      names(topicsOf("team-a", "foo", { requests: "in", responses: "out", deadLetter: "bad" })),
    ).to.deep.equal(["in", "out", "bad"]);
  });

  it("keeps the old default names a pipeline made before this version has in its status (an upgrade)", () => {
    const legacy = {
      requests: "foo-requests",
      responses: "foo-responses",
      deadLetter: "foo-dlq",
      partitions: 8,
    };
    expect(names(topicsOf("team-a", "foo", {}, { topics: legacy }))).to.deep.equal([
      "foo-requests",
      "foo-responses",
      "foo-dlq",
    ]);
    // The spec still decides; a status name that is not the old default is no reason to keep it.
    expect(
      names(
        topicsOf("team-a", "foo", { responses: "out" }, { topics: { ...legacy, deadLetter: "elsewhere" } }),
      ),
    ).to.deep.equal(["foo-requests", "out", "team-a.foo-dlq"]);
  });

  it("refuses one topic in two roles when one of the names is a default, naming both fields", () => {
    const overlap = () => topicsOf("team-a", "foo", { responses: "team-a.foo-requests" });
    expect(overlap).to.throw(InvalidPipelineError).with.property("reason", "TopicRolesOverlap");
    expect(overlap).to.throw(
      'spec.topics.requests (unset, so "team-a.foo-requests") and spec.topics.responses name the same topic "team-a.foo-requests"',
    );
  });

  it("refuses one topic in two roles when the name is an old default kept from the status", () => {
    const status = {
      topics: { requests: "foo-requests", responses: "foo-responses", deadLetter: "foo-dlq", partitions: 8 },
    };
    expect(() => topicsOf("team-a", "foo", { deadLetter: "foo-responses" }, status)).to.throw(
      'spec.topics.responses (unset, so "foo-responses") and spec.topics.deadLetter name the same topic',
    );
  });

  it("still says what a refused pipeline resolves to, so it can be deleted", () => {
    try {
      topicsOf("team-a", "foo", { deadLetter: "team-a.foo-requests", deletionPolicy: "Delete" });
      expect.fail("resolved a pipeline with one topic in two roles");
    } catch (error) {
      expect((error as InvalidPipelineError).pipeline.topics).to.include({
        requests: "team-a.foo-requests",
        deadLetter: "team-a.foo-requests",
        deletionPolicy: "Delete",
      });
    }
  });
});
