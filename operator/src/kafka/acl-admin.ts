// The kafkajs calls behind the ACLs of acl-plan.ts: describe the ACLs naming some principals, create and delete
// literal allow bindings. Translates between kafkajs's numeric enums and acl-plan's words; TopicAdmin bounds
// each call and turns its failures into KafkaAdminErrors.
import kafkajs, { type AclEntry, type AclFilter, type Admin } from "kafkajs";
import type { AclBinding, DescribedAcl } from "./acl-plan.ts";

// kafkajs is CommonJS and these are not visible to ESM as named exports.
const { AclOperationTypes, AclPermissionTypes, AclResourceTypes, ResourcePatternTypes } = kafkajs;

const resourceTypes = { topic: AclResourceTypes.TOPIC, group: AclResourceTypes.GROUP } as const;
const operations = {
  Read: AclOperationTypes.READ,
  Write: AclOperationTypes.WRITE,
  Describe: AclOperationTypes.DESCRIBE,
} as const;
const describedOperations = new Map<number, DescribedAcl["operation"]>([
  [AclOperationTypes.READ, "Read"],
  [AclOperationTypes.WRITE, "Write"],
  [AclOperationTypes.DESCRIBE, "Describe"],
  [AclOperationTypes.ALL, "All"],
  [AclOperationTypes.ALTER, "Alter"],
  [AclOperationTypes.DELETE, "Delete"],
]);

const describedResourceTypes = new Map<number, DescribedAcl["resourceType"]>([
  [AclResourceTypes.TOPIC, "topic"],
  [AclResourceTypes.GROUP, "group"],
]);
const describedPatternTypes = new Map<number, DescribedAcl["patternType"]>([
  [ResourcePatternTypes.LITERAL, "literal"],
  [ResourcePatternTypes.PREFIXED, "prefixed"],
]);

function entry(binding: AclBinding): AclEntry {
  return {
    principal: binding.principal,
    host: "*",
    resourceType: resourceTypes[binding.resourceType],
    resourceName: binding.resourceName,
    resourcePatternType: ResourcePatternTypes.LITERAL,
    operation: operations[binding.operation],
    permissionType: AclPermissionTypes.ALLOW,
  };
}

/** Every ACL (any resource, pattern, operation, permission) naming one of `principals`. */
export async function describeAclsOf(admin: Admin, principals: readonly string[]): Promise<DescribedAcl[]> {
  const described = await Promise.all(
    principals.map((principal) =>
      admin.describeAcls({
        principal,
        resourceType: AclResourceTypes.ANY,
        resourcePatternType: ResourcePatternTypes.ANY,
        operation: AclOperationTypes.ANY,
        permissionType: AclPermissionTypes.ANY,
      }),
    ),
  );
  return described.flatMap(({ resources }) =>
    resources.flatMap((resource) =>
      resource.acls.map((acl) => ({
        principal: acl.principal,
        host: acl.host,
        resourceType: describedResourceTypes.get(resource.resourceType) ?? "other",
        resourceName: resource.resourceName,
        patternType: describedPatternTypes.get(resource.resourcePatternType) ?? "other",
        operation: describedOperations.get(acl.operation) ?? "other",
        permission: acl.permissionType === AclPermissionTypes.DENY ? "deny" : "allow",
      })),
    ),
  );
}

export async function createAclBindings(admin: Admin, bindings: readonly AclBinding[]): Promise<void> {
  if (bindings.length > 0) await admin.createAcls({ acl: bindings.map(entry) });
}

/** Deletes exactly these bindings (a filter that matches only itself); one already gone is no error. */
export async function deleteAclBindings(admin: Admin, bindings: readonly AclBinding[]): Promise<void> {
  const filters: AclFilter[] = bindings.map(entry);
  if (filters.length > 0) await admin.deleteAcls({ filters });
}
