// What a pipeline's reconcile acts on in the ScaledObject it owns, so the ScaledObject watch queues the pipeline
// for a change of it and for nothing else: KEDA's conditions (AutoscalingActive reports them), and what a
// reconcile puts back when someone changes it (the spec, by its generation; labels, annotations, owners). KEDA
// rewrites status.lastActiveTime every polling interval while its scaler is active, which concerns no one here.
import type { ScaledObject } from "../render/scaled-object.ts";

export function scaledObjectAspect(scaledObject: ScaledObject): unknown {
  const { generation, labels, annotations, ownerReferences } = scaledObject.metadata;
  return {
    generation,
    labels,
    annotations,
    owners: ownerReferences?.map((owner) => owner.uid),
    conditions: scaledObject.status?.conditions?.map(({ type, status, reason, message }) => ({
      type,
      status,
      reason,
      message,
    })),
  };
}
