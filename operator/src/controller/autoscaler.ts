// Applies the worker autoscaler that spec.autoscaling.provider names, and removes the other one's objects the
// pipeline owns, so switching provider hands the Deployment over without two autoscalers fighting over it: the
// operator's HPA (builtin), or KEDA's ScaledObject with its TriggerAuthentication (keda). KEDA's objects are
// touched only when the operator runs with KEDA_ENABLED: its RBAC grants them only then, and a cluster without
// KEDA serves no keda.sh API at all. Whether the pipeline owns one is read from the watches' caches, so a
// pipeline on the built-in HPA costs no request to KEDA's API.
import {
  ApiException,
  type KubernetesObject,
  type KubernetesObjectApi,
  type ObjectCache,
  type V2HorizontalPodAutoscaler,
} from "@kubernetes/client-node";
import { hasApiStatus } from "../kube/api-status.ts";
import { applyObject } from "../kube/apply.ts";
import type { ResolvedPipeline } from "../pipeline.ts";
import { renderWorkerHpa } from "../render/hpa.ts";
import { workerName } from "../render/labels.ts";
import {
  kedaApiVersion,
  renderScaledObject,
  renderTriggerAuthentication,
  type ScaledObject,
} from "../render/scaled-object.ts";
import type { KedaOutcome } from "./keda-status.ts";

/** The watches' caches of KEDA's kinds the operator owns. */
export interface KedaCaches {
  scaledObjects: Pick<ObjectCache<KubernetesObject>, "get">;
  triggerAuthentications: Pick<ObjectCache<KubernetesObject>, "get">;
}

export interface AutoscalerDeps {
  objects: Pick<KubernetesObjectApi, "patch" | "delete">;
  hpas: Pick<ObjectCache<V2HorizontalPodAutoscaler>, "get">;
  /** Present with KEDA_ENABLED: the operator may read and write KEDA's objects. */
  keda: KedaCaches | undefined;
}

export interface AppliedAutoscaler {
  hpa?: V2HorizontalPodAutoscaler;
  keda?: KedaOutcome;
}

/** A reference to one of the pipeline's objects by kind, for a read or a delete. */
function reference(
  pipeline: ResolvedPipeline,
  apiVersion: string,
  kind: string,
): KubernetesObject & { metadata: { name: string; namespace: string } } {
  return { apiVersion, kind, metadata: { name: workerName(pipeline), namespace: pipeline.namespace } };
}

function ownedBy(object: KubernetesObject | undefined, pipeline: ResolvedPipeline): boolean {
  return (object?.metadata?.ownerReferences ?? []).some((owner) => owner.uid === pipeline.uid);
}

/**
 * Deletes the pipeline's object of this kind if the cache has it and the pipeline owns it (never a user's own);
 * one the cache still shows after it went is no error.
 */
async function deleteOwned(
  deps: AutoscalerDeps,
  cache: Pick<ObjectCache<KubernetesObject>, "get">,
  pipeline: ResolvedPipeline,
  kind: string,
): Promise<void> {
  if (!ownedBy(cache.get(workerName(pipeline), pipeline.namespace), pipeline)) return;
  await deps.objects.delete(reference(pipeline, kedaApiVersion, kind)).catch((error: unknown) => {
    if (!hasApiStatus(error, 404)) throw error;
  });
}

const kedaNotEnabled = {
  state: "unavailable",
  reason: "KedaNotEnabled",
  message:
    "spec.autoscaling.provider is keda, but the operator runs without KEDA support: install the chart with keda.enabled=true (KEDA_ENABLED=true), which grants it KEDA's ScaledObjects and TriggerAuthentications, or set spec.autoscaling.provider to builtin",
} as const;

/** What a refused KEDA apply means for a person; undefined for a failure to retry. */
function kedaUnavailable(error: unknown): KedaOutcome | undefined {
  if (!(error instanceof ApiException)) return undefined;
  if (error.code === 404) {
    return {
      state: "unavailable",
      reason: "KedaNotInstalled",
      message:
        "spec.autoscaling.provider is keda, but the API server serves no keda.sh/v1alpha1 ScaledObject: install KEDA (its CRDs, operator and metrics server), or set spec.autoscaling.provider to builtin",
    };
  }
  if (error.code === 403) {
    return {
      state: "unavailable",
      reason: "KedaForbidden",
      message: `the operator may not write KEDA's ScaledObjects or TriggerAuthentications (install the chart with keda.enabled=true): ${error.message}`,
    };
  }
  return undefined;
}

async function applyKeda(
  deps: AutoscalerDeps,
  pipeline: ResolvedPipeline,
  paused: boolean,
): Promise<KedaOutcome> {
  if (deps.keda === undefined) return kedaNotEnabled;
  try {
    const authentication = renderTriggerAuthentication(pipeline);
    if (authentication === undefined) {
      await deleteOwned(deps, deps.keda.triggerAuthentications, pipeline, "TriggerAuthentication");
    } else await applyObject(deps.objects, authentication);
    const scaledObject = await applyObject(deps.objects, renderScaledObject(pipeline, { paused }));
    return { state: "applied", scaledObject: scaledObject as ScaledObject };
  } catch (error) {
    const unavailable = kedaUnavailable(error);
    if (unavailable === undefined) throw error;
    return unavailable;
  }
}

/**
 * Applies the provider's autoscaler and deletes the other's; throws what the API server refused, except KEDA
 * missing or forbidden, which is an outcome for status (no retry cures it).
 */
export async function applyAutoscaler(
  deps: AutoscalerDeps,
  pipeline: ResolvedPipeline,
  paused: boolean,
): Promise<AppliedAutoscaler> {
  if (pipeline.autoscaling.provider === "builtin") {
    const hpa = await applyObject(deps.objects, renderWorkerHpa(pipeline));
    if (deps.keda !== undefined) {
      await deleteOwned(deps, deps.keda.scaledObjects, pipeline, "ScaledObject");
      await deleteOwned(deps, deps.keda.triggerAuthentications, pipeline, "TriggerAuthentication");
    }
    return { hpa };
  }
  const hpa = deps.hpas.get(workerName(pipeline), pipeline.namespace);
  if (ownedBy(hpa, pipeline)) {
    await deps.objects.delete(reference(pipeline, "autoscaling/v2", "HorizontalPodAutoscaler"));
  }
  return { keda: await applyKeda(deps, pipeline, paused) };
}
