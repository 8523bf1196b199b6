// What the controller watches: the SentimentPipelines, and the Deployments, Services and HPAs it owns (by their
// managed-by label), so a change made behind its back is put back. Every change becomes the key
// ("namespace/name") of the pipeline it concerns; the caches are what reconciles read instead of the API server.
import type {
  AppsV1Api,
  AutoscalingV2Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  KubernetesListObject,
  KubernetesObject,
  V1Deployment,
  V1Service,
  V2HorizontalPodAutoscaler,
} from "@kubernetes/client-node";
import { type WatchedResource, watchResource } from "../kube/watch.ts";
import { group, plural, type SentimentPipeline, version } from "../pipeline.ts";
import { managedBy, pipelineLabel } from "../render/labels.ts";

export interface WatchClients {
  kubeConfig: KubeConfig;
  customObjects: CustomObjectsApi;
  apps: AppsV1Api;
  core: CoreV1Api;
  autoscaling: AutoscalingV2Api;
}

export interface Watches {
  pipelines: WatchedResource<SentimentPipeline>;
  deployments: WatchedResource<V1Deployment>;
  services: WatchedResource<V1Service>;
  hpas: WatchedResource<V2HorizontalPodAutoscaler>;
  /** Every watch has listed once: the caches reflect the cluster. */
  synced(): boolean;
  stop(): Promise<void>;
}

const ownedSelector = `app.kubernetes.io/managed-by=${managedBy}`;

/** A pipeline's key: what the work queue holds and a reconcile is given. */
export function keyOf(object: KubernetesObject): string {
  return `${object.metadata?.namespace ?? ""}/${object.metadata?.name ?? ""}`;
}

function ownerKeyOf(object: KubernetesObject): string | undefined {
  const pipeline = object.metadata?.labels?.[pipelineLabel];
  return pipeline === undefined ? undefined : `${object.metadata?.namespace ?? ""}/${pipeline}`;
}

/** Starts the watches; resolves once each has listed, so reconciles see a filled cache. */
export async function startWatches(
  clients: WatchClients,
  enqueue: (key: string) => void,
  log: (message: string, fields?: Record<string, unknown>) => void,
): Promise<Watches> {
  const { kubeConfig, customObjects, apps, core, autoscaling } = clients;
  const onError = (what: string) => (error: unknown) =>
    log(`watch of ${what} failed; restarting it`, { error: String(error) });
  const enqueueOwner = (object: KubernetesObject) => {
    const key = ownerKeyOf(object);
    if (key !== undefined) enqueue(key);
  };
  const [pipelines, deployments, services, hpas] = await Promise.all([
    watchResource<SentimentPipeline>({
      kubeConfig,
      path: `/apis/${group}/${version}/${plural}`,
      list: () =>
        customObjects.listClusterCustomObject({ group, version, plural }) as Promise<
          KubernetesListObject<SentimentPipeline>
        >,
      onChange: (pipeline) => enqueue(keyOf(pipeline)),
      onError: onError("SentimentPipelines"),
    }),
    watchResource<V1Deployment>({
      kubeConfig,
      path: "/apis/apps/v1/deployments",
      labelSelector: ownedSelector,
      list: () => apps.listDeploymentForAllNamespaces({ labelSelector: ownedSelector }),
      onChange: enqueueOwner,
      onError: onError("Deployments"),
    }),
    // Only to notice a Service changed or deleted behind the operator's back: reconcile re-applies it.
    watchResource<V1Service>({
      kubeConfig,
      path: "/api/v1/services",
      labelSelector: ownedSelector,
      list: () => core.listServiceForAllNamespaces({ labelSelector: ownedSelector }),
      onChange: enqueueOwner,
      onError: onError("Services"),
    }),
    watchResource<V2HorizontalPodAutoscaler>({
      kubeConfig,
      path: "/apis/autoscaling/v2/horizontalpodautoscalers",
      labelSelector: ownedSelector,
      list: () => autoscaling.listHorizontalPodAutoscalerForAllNamespaces({ labelSelector: ownedSelector }),
      onChange: enqueueOwner,
      onError: onError("HorizontalPodAutoscalers"),
    }),
  ]);
  const all = [pipelines, deployments, services, hpas];
  return {
    pipelines,
    deployments,
    services,
    hpas,
    synced: () => all.every((watched) => watched.synced()),
    stop: async () => {
      await Promise.all(all.map((watched) => watched.stop()));
    },
  };
}
