// Writes to the API server, all by server-side apply under one field manager: the operator states the
// fields it owns and the server merges, so another controller's fields (the HPA's replicas, a person's
// annotations) are never overwritten, and a repeat of the same apply changes nothing.
import {
  type CustomObjectsApi,
  type KubernetesObject,
  type KubernetesObjectApi,
  PatchStrategy,
  setHeaderOptions,
} from "@kubernetes/client-node";
import { apiVersion, group, kind, type PipelineStatus, plural, version } from "../pipeline.ts";
import { hasApiStatus } from "./api-status.ts";

const fieldManager = "kubesentiment-operator";

export async function applyObject<T extends KubernetesObject>(
  api: Pick<KubernetesObjectApi, "patch">,
  object: T,
): Promise<T> {
  return api.patch(object, undefined, undefined, fieldManager, true, PatchStrategy.ServerSideApply);
}

/**
 * True when the API server validated what was applied and refused it (422 Unprocessable Entity: an invalid field,
 * or an admission policy's denial). Applying the same object again gets the same answer, so only a change can
 * cure it: to the pipeline's spec, from which the object is rendered, or to the policy.
 */
export function refusedAsInvalid(error: unknown): boolean {
  return hasApiStatus(error, 422);
}

/** Applies a pipeline's status subresource; status is written once per reconcile. */
export async function applyStatus(
  api: Pick<CustomObjectsApi, "patchNamespacedCustomObjectStatus">,
  namespace: string,
  name: string,
  status: PipelineStatus,
): Promise<void> {
  await applyStatusOf(api, { plural, kind }, namespace, name, status);
}

/** Applies the status subresource of an object of one of the operator's kinds (group kubesentiment.io). */
export async function applyStatusOf(
  api: Pick<CustomObjectsApi, "patchNamespacedCustomObjectStatus">,
  resource: { plural: string; kind: string },
  namespace: string,
  name: string,
  status: object,
): Promise<void> {
  await api.patchNamespacedCustomObjectStatus(
    {
      group,
      version,
      namespace,
      plural: resource.plural,
      name,
      body: { apiVersion, kind: resource.kind, metadata: { name, namespace }, status },
      fieldManager,
      force: true,
    },
    setHeaderOptions("Content-Type", PatchStrategy.ServerSideApply),
  );
}

/**
 * Owns (or gives up) the operator's finalizer on a pipeline. Applying the pipeline with only this list means
 * the operator owns just that entry: dropping it from a later apply removes it, others' finalizers stay.
 */
export async function applyFinalizer(
  api: Pick<KubernetesObjectApi, "patch">,
  namespace: string,
  name: string,
  finalizer: string,
  present: boolean,
): Promise<void> {
  await applyObject(api, {
    apiVersion,
    kind,
    metadata: { name, namespace, finalizers: present ? [finalizer] : [] },
  });
}
