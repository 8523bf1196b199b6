// Pods by label in one namespace, listed from the API server when asked (not watched: the operator reads a
// pipeline's pods only while its workers are short, see controller/status.ts workersShort).
import type { CoreV1Api, V1Pod } from "@kubernetes/client-node";

/** The pods in `namespace` that carry every one of `labels`. */
export type PodLister = (namespace: string, labels: Record<string, string>) => Promise<V1Pod[]>;

export function podLister(core: Pick<CoreV1Api, "listNamespacedPod">): PodLister {
  return async (namespace, labels) => {
    const labelSelector = Object.entries(labels)
      .map(([key, value]) => `${key}=${value}`)
      .join(",");
    return (await core.listNamespacedPod({ namespace, labelSelector })).items;
  };
}
