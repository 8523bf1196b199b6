// Names, labels and the owner reference every object the operator owns for a pipeline carries. The selector is a
// separate, smaller set: a Deployment's selector is immutable, so it holds only what can never change for the
// life of a pipeline (its name), never a version, an image or anything else a new operator release may relabel.
import type { V1ObjectMeta, V1OwnerReference } from "@kubernetes/client-node";
import { apiVersion, kind, type ResolvedPipeline } from "../pipeline.ts";

const workerAppName = "kubesentiment-worker";
export const managedBy = "kubesentiment-operator";
export const pipelineLabel = "kubesentiment.io/pipeline";

/** The Deployment, its Service and its HPA all share this name, so one look-up finds all three. */
export function workerName(pipeline: ResolvedPipeline): string {
  return `${pipeline.name}-worker`;
}

/** Labels fixed for the pipeline's lifetime: the Deployment's selector, the Service's selector. */
export function selectorLabels(pipeline: ResolvedPipeline): Record<string, string> {
  return {
    "app.kubernetes.io/name": workerAppName,
    "app.kubernetes.io/instance": pipeline.name,
  };
}

/** Every label an owned object (and the worker pods) carries. */
export function workerLabels(pipeline: ResolvedPipeline): Record<string, string> {
  return {
    ...selectorLabels(pipeline),
    "app.kubernetes.io/managed-by": managedBy,
    "app.kubernetes.io/component": "worker",
    [pipelineLabel]: pipeline.name,
  };
}

/**
 * Makes the pipeline the controller of the object: the garbage collector deletes it with the pipeline, and
 * blockOwnerDeletion keeps a foreground deletion of the pipeline waiting until it is gone.
 */
export function ownerReference(pipeline: ResolvedPipeline): V1OwnerReference {
  return {
    apiVersion,
    kind,
    name: pipeline.name,
    uid: pipeline.uid,
    controller: true,
    blockOwnerDeletion: true,
  };
}

/** Metadata of the worker Deployment, Service and HPA. */
export function workerObjectMeta(pipeline: ResolvedPipeline): V1ObjectMeta {
  return {
    name: workerName(pipeline),
    namespace: pipeline.namespace,
    labels: workerLabels(pipeline),
    ownerReferences: [ownerReference(pipeline)],
  };
}
