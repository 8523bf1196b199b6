import { expect } from "chai";
import {
  type AclBinding,
  type DescribedAcl,
  describeBindings,
  missingBindings,
  staleBindings,
  ungrantedBindings,
  unionOfBindings,
  workerAcls,
} from "../../../operator/src/kafka/acl-plan.ts";
import { pipelineOf } from "./render-fixtures.ts";

const pipeline = pipelineOf({ kafka: { bootstrapServers: ["k:9092"] } });
const worker = "User:worker";
const desired = workerAcls(pipeline, worker);

/** The ACL Kafka describes for a binding the operator created. */
const held = (binding: AclBinding, changes: Partial<DescribedAcl> = {}): DescribedAcl => ({
  ...binding,
  host: "*",
  patternType: "literal",
  permission: "allow",
  ...changes,
});

const requestsRead = {
  principal: worker,
  resourceType: "topic",
  resourceName: "shop.reviews-requests",
  operation: "Read",
} as const;

describe("operator ACL plan", () => {
  it("grants a worker exactly what it does: read requests in its group, write responses and dead letters", () => {
    expect(describeBindings(desired)).to.equal(
      "Read+Describe on topic shop.reviews-requests, Read on group kubesentiment.shop.reviews, " +
        "Write+Describe on topic shop.reviews-responses, Write+Describe on topic shop.reviews-dlq",
    );
    expect(desired.every((binding) => binding.principal === worker)).to.equal(true);
    expect(desired.map((binding) => binding.operation)).to.not.include.members(["Create", "All", "Alter"]);
  });

  describe("managed: what to create", () => {
    it("creates every binding when Kafka holds none, and nothing once it holds them all", () => {
      expect(missingBindings(desired, [])).to.deep.equal(desired);
      expect(
        missingBindings(
          desired,
          desired.map((binding) => held(binding)),
        ),
      ).to.deep.equal([]);
    });

    it("puts back one that was removed, and only that one", () => {
      const [removed, ...kept] = desired;
      expect(
        missingBindings(
          desired,
          kept.map((binding) => held(binding)),
        ),
      ).to.deep.equal([removed]);
    });

    it("counts only its own exact allow binding, not a wider or another one that grants as much", () => {
      for (const other of [
        held(requestsRead, { patternType: "prefixed", resourceName: "shop." }),
        held(requestsRead, { operation: "All" }),
        held(requestsRead, { host: "10.0.0.1" }),
        held(requestsRead, { principal: "User:*" }),
        held(requestsRead, { permission: "deny" }),
      ]) {
        expect(missingBindings([requestsRead], [other]), JSON.stringify(other)).to.deep.equal([requestsRead]);
      }
    });
  });

  describe("managed: what to revoke", () => {
    it("revokes a former principal's bindings, and keeps the current principal's", () => {
      const former = workerAcls(pipeline, "User:former");
      expect(staleBindings([...former, ...desired], desired)).to.deep.equal(former);
      expect(staleBindings(desired, desired)).to.deep.equal([]);
    });

    it("revokes those of a topic the pipeline no longer uses, and nothing it never granted", () => {
      const moved = workerAcls(
        pipelineOf({
          kafka: { bootstrapServers: ["k:9092"] },
          topics: { responses: "shop.answers" },
        }),
        worker,
      );
      expect(describeBindings(staleBindings(desired, moved))).to.equal(
        "Write+Describe on topic shop.reviews-responses",
      );
      expect(staleBindings([], moved)).to.deep.equal([]);
    });

    it("keeps a record without repeats when it adds what was granted since", () => {
      const former = workerAcls(pipeline, "User:former");
      expect(unionOfBindings(desired, [...former, ...desired])).to.deep.equal([...desired, ...former]);
    });
  });

  describe("not managed: what Kafka's ACLs do not grant", () => {
    it("names each binding no ACL grants", () => {
      const granted = desired
        .filter((binding) => binding.resourceType === "topic")
        .map((binding) => held(binding));
      expect(describeBindings(ungrantedBindings(desired, granted))).to.equal(
        "Read on group kubesentiment.shop.reviews",
      );
    });

    it("follows the authorizer: wildcards, prefixes, All, and operations that imply Describe", () => {
      const grants: DescribedAcl[] = [
        held(requestsRead, { principal: "User:*", resourceName: "*" }),
        held(
          { ...requestsRead, resourceType: "group", resourceName: "kubesentiment.shop." },
          { patternType: "prefixed" },
        ),
        held(
          { ...requestsRead, resourceName: "shop.reviews-" },
          { patternType: "prefixed", operation: "Write" },
        ),
      ];
      expect(ungrantedBindings(desired, grants)).to.deep.equal([]);
      expect(
        ungrantedBindings(desired, [held(requestsRead, { resourceName: "*", operation: "All" })]).length,
      ).to.equal(desired.filter((binding) => binding.resourceType === "group").length);
    });

    it("lets a deny win over any allow, and does not count an allow from one host only", () => {
      const allowed = held(requestsRead);
      expect(
        ungrantedBindings(
          [requestsRead],
          [allowed, held(requestsRead, { permission: "deny", principal: "User:*" })],
        ),
      ).to.deep.equal([requestsRead]);
      expect(ungrantedBindings([requestsRead], [held(requestsRead, { host: "10.0.0.1" })])).to.deep.equal([
        requestsRead,
      ]);
    });

    it("does not let Describe imply Read", () => {
      expect(
        ungrantedBindings([requestsRead], [held(requestsRead, { operation: "Describe" })]),
      ).to.deep.equal([requestsRead]);
    });
  });
});
