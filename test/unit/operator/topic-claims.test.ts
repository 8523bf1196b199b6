import { expect } from "chai";
import { claimedTopics, describeClaims } from "../../../operator/src/controller/topic-claims.ts";
import { resolvePipeline, type SentimentPipeline } from "../../../operator/src/pipeline.ts";
import { pipelineObject } from "./fake-cluster.ts";

/** A pipeline using `requests` on Kafka `servers`, created at `createdAt`, that created `created`. */
function using(
  namespace: string,
  name: string,
  requests: string,
  { createdAt = "2026-12-01T08:00:00Z", created = [] as string[], servers = ["k:9092"] } = {},
): SentimentPipeline {
  return pipelineObject(
    { kafka: { bootstrapServers: servers }, topics: { partitions: 4, replicationFactor: 1, requests } },
    { namespace, name, uid: `${namespace}-${name}`, creationTimestamp: new Date(createdAt) },
    {
      topics: { requests, responses: "r", deadLetter: "d", partitions: 4, created },
    },
  );
}

const claimsOf = (self: SentimentPipeline, all: SentimentPipeline[]) =>
  claimedTopics(self, resolvePipeline(self), all);

describe("operator topic claims", () => {
  it("gives a topic two pipelines resolve to to the older one, whichever asks", () => {
    const older = using("a", "foo", "shared", { createdAt: "2026-12-01T08:00:00Z" });
    const younger = using("b", "foo", "shared", { createdAt: "2026-12-01T09:00:00Z" });
    const all = [older, younger];
    expect(claimsOf(older, all)).to.deep.equal([]);
    expect(claimsOf(younger, all)).to.deep.equal([{ topic: "shared", claimant: "a/foo" }]);
  });

  it("gives it to the pipeline that created it, however young", () => {
    const older = using("a", "foo", "shared", { createdAt: "2026-12-01T08:00:00Z" });
    const creator = using("b", "foo", "shared", { createdAt: "2026-12-01T09:00:00Z", created: ["shared"] });
    const all = [older, creator];
    expect(claimsOf(creator, all)).to.deep.equal([]);
    expect(claimsOf(older, all)).to.deep.equal([{ topic: "shared", claimant: "b/foo" }]);
  });

  it("breaks a tie of age by namespace and name, so exactly one of two is refused", () => {
    const first = using("a", "foo", "shared");
    const second = using("b", "foo", "shared");
    const all = [second, first];
    expect(claimsOf(first, all)).to.deep.equal([]);
    expect(claimsOf(second, all)).to.have.length(1);
  });

  it("lets pipelines on different Kafka clusters use the same names", () => {
    const here = using("a", "foo", "shared", { servers: ["k:9092"] });
    const there = using("b", "foo", "shared", { servers: ["other:9092"], createdAt: "2026-11-01T00:00:00Z" });
    expect(claimsOf(here, [here, there])).to.deep.equal([]);
  });

  it("counts a pipeline whose own spec is refused by the names it resolves to", () => {
    const refused = pipelineObject(
      { topics: { partitions: 4, replicationFactor: 1, requests: "shared", responses: "shared" } },
      { namespace: "a", name: "bad", uid: "bad", creationTimestamp: new Date("2026-11-01T00:00:00Z") },
    );
    const self = using("b", "foo", "shared");
    expect(claimsOf(self, [refused, self])).to.deep.equal([{ topic: "shared", claimant: "a/bad" }]);
  });

  it("names each topic and who holds it, and says nothing was touched", () => {
    expect(describeClaims([{ topic: "shared", claimant: "a/foo" }])).to.equal(
      'topic "shared" belongs to pipeline a/foo on the same Kafka: two pipelines on one topic would both ' +
        "consume every request. Name other topics in spec.topics; nothing was created or changed",
    );
  });
});
