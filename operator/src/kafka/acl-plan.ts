// What a pipeline's workers may do on Kafka, as ACL bindings, and how that compares with the ACLs Kafka holds.
// Pure: admin.ts reads and writes the ACLs, acls-port.ts drives both.
//
// A worker reads the requests topic in its pipeline's consumer group and writes the responses and dead-letter
// topics; its clients also look up each topic's metadata. So: Read and Describe on requests, Read on the group
// (which implies Describe, for its offsets), Write and Describe on responses and dead letter. Nothing on the
// cluster: since Kafka 3.0 (KIP-679) Write on a topic lets an idempotent producer start, so IdempotentWrite is
// not needed on the brokers this project runs with (Kafka 4); no Create, so a worker can never make a topic.
// The redrive and replay runners use the operator's own login, not the workers'.
import type { ResolvedPipeline } from "../pipeline.ts";

export type AclOperation = "Read" | "Write" | "Describe";
export type AclResourceType = "topic" | "group";

/** One allowed operation for one principal on one literal resource, from any host. */
export interface AclBinding {
  principal: string;
  resourceType: AclResourceType;
  resourceName: string;
  operation: AclOperation;
}

/** An ACL as Kafka describes it, in the terms that decide whether it grants a binding. */
export interface DescribedAcl {
  principal: string;
  host: string;
  resourceType: AclResourceType | "other";
  resourceName: string;
  patternType: "literal" | "prefixed" | "other";
  operation: AclOperation | "All" | "Alter" | "Delete" | "other";
  permission: "allow" | "deny";
}

/** The bindings the pipeline's workers need, for `principal` ("User:alice"). */
export function workerAcls(pipeline: ResolvedPipeline, principal: string): AclBinding[] {
  const { requests, responses, deadLetter } = pipeline.topics;
  const binding = (resourceType: AclResourceType, resourceName: string, operation: AclOperation) => ({
    principal,
    resourceType,
    resourceName,
    operation,
  });
  return [
    binding("topic", requests, "Read"),
    binding("topic", requests, "Describe"),
    binding("group", pipeline.consumerGroup, "Read"),
    binding("topic", responses, "Write"),
    binding("topic", responses, "Describe"),
    binding("topic", deadLetter, "Write"),
    binding("topic", deadLetter, "Describe"),
  ];
}

/** The described ACL that is exactly `binding` (the operator's own, which it puts back and deletes). */
export function isExactly(acl: DescribedAcl, binding: AclBinding): boolean {
  return (
    acl.permission === "allow" &&
    acl.host === "*" &&
    acl.patternType === "literal" &&
    acl.principal === binding.principal &&
    acl.resourceType === binding.resourceType &&
    acl.resourceName === binding.resourceName &&
    acl.operation === binding.operation
  );
}

function sameBinding(a: AclBinding, b: AclBinding): boolean {
  return (
    a.principal === b.principal &&
    a.resourceType === b.resourceType &&
    a.resourceName === b.resourceName &&
    a.operation === b.operation
  );
}

/**
 * Those of `granted` (what the operator granted the pipeline's workers before) no longer in `desired`: a former
 * principal's, or a former topic's or group's, to revoke.
 */
export function staleBindings(granted: readonly AclBinding[], desired: readonly AclBinding[]): AclBinding[] {
  return granted.filter((binding) => !desired.some((wanted) => sameBinding(wanted, binding)));
}

/** `a` and those of `b` it lacks. */
export function unionOfBindings(a: readonly AclBinding[], b: readonly AclBinding[]): AclBinding[] {
  return [...a, ...staleBindings(b, a)];
}

/** Those of `desired` Kafka does not hold exactly: what a managed pipeline creates (or puts back). */
export function missingBindings(desired: readonly AclBinding[], held: readonly DescribedAcl[]): AclBinding[] {
  return desired.filter((binding) => !held.some((acl) => isExactly(acl, binding)));
}

/** Operations that imply Describe, as Kafka's authorizer has them. */
const impliesDescribe = new Set<DescribedAcl["operation"]>(["Read", "Write", "Delete", "Alter", "All"]);

function matches(acl: DescribedAcl, binding: AclBinding): boolean {
  const principal = acl.principal === binding.principal || acl.principal === "User:*";
  const resource =
    acl.resourceType === binding.resourceType &&
    ((acl.patternType === "literal" &&
      (acl.resourceName === binding.resourceName || acl.resourceName === "*")) ||
      (acl.patternType === "prefixed" && binding.resourceName.startsWith(acl.resourceName)));
  const operation =
    acl.operation === binding.operation ||
    acl.operation === "All" ||
    (binding.operation === "Describe" && acl.permission === "allow" && impliesDescribe.has(acl.operation));
  return principal && resource && operation;
}

/**
 * Those of `desired` the ACLs Kafka holds do not grant from every host, by the authorizer's rules: a matching
 * deny wins; an allow may name the principal or User:*, the resource literally, as "*" or by prefix, the
 * operation or All (Read, Write, Delete and Alter imply Describe). What ACLs cannot show (super.users,
 * allow.everyone.if.no.acl.found) is not seen: a super user is reported as missing what it has.
 */
export function ungrantedBindings(
  desired: readonly AclBinding[],
  held: readonly DescribedAcl[],
): AclBinding[] {
  return desired.filter((binding) => {
    const relevant = held.filter((acl) => matches(acl, binding));
    const denied = relevant.some((acl) => acl.permission === "deny");
    const allowed = relevant.some((acl) => acl.permission === "allow" && acl.host === "*");
    return denied || !allowed;
  });
}

/** "Read on topic t, Read on group g": the bindings for a person, grouped by resource. */
export function describeBindings(bindings: readonly AclBinding[]): string {
  const byResource = new Map<string, AclOperation[]>();
  for (const { resourceType, resourceName, operation } of bindings) {
    const key = `${resourceType} ${resourceName}`;
    byResource.set(key, [...(byResource.get(key) ?? []), operation]);
  }
  return [...byResource].map(([resource, operations]) => `${operations.join("+")} on ${resource}`).join(", ");
}
