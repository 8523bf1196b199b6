// Reads of the operator's own kinds straight from the API server, for when a cached copy may be a moment old.
import type { CustomObjectsApi } from "@kubernetes/client-node";
import { group, version } from "../pipeline.ts";
import { hasApiStatus } from "./api-status.ts";

/** The object of `plural` (group kubesentiment.io) as the API server has it now; undefined once it is gone. */
export async function readCustomObject<T>(
  api: Pick<CustomObjectsApi, "getNamespacedCustomObject">,
  plural: string,
  namespace: string,
  name: string,
): Promise<T | undefined> {
  try {
    return (await api.getNamespacedCustomObject({ group, version, namespace, plural, name })) as T;
  } catch (error) {
    if (hasApiStatus(error, 404)) return undefined;
    throw error;
  }
}
