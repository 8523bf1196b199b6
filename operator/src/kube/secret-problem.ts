// What keeps a Secret a pipeline names from serving what reads it: the Secret is missing, or a key is. One
// wording for every such Secret, the Kafka credentials (kafka/credentials.ts) and those the worker pods mount
// (render/mounted-secrets.ts), naming the field, the Secret and the key, never the contents.

/** A Secret that `field` of a pipeline names, and the keys something reads from it. */
export interface SecretUse {
  field: string;
  namespace: string;
  name: string;
  keys: readonly string[];
}

/** Why the Secret's `data` (undefined: it does not exist) cannot serve `use`, naming the field; undefined if it can. */
export function secretProblem(
  use: SecretUse,
  data: Record<string, Buffer> | undefined,
): { reason: "SecretNotFound" | "SecretKeyMissing"; message: string } | undefined {
  const { field, namespace, name } = use;
  if (data === undefined) {
    return {
      reason: "SecretNotFound",
      message: `${field} names Secret ${namespace}/${name}, which does not exist`,
    };
  }
  const missing = use.keys.find((key) => data[key] === undefined);
  if (missing === undefined) return undefined;
  return {
    reason: "SecretKeyMissing",
    message: `Secret ${namespace}/${name} (${field}) has no key ${missing}`,
  };
}
