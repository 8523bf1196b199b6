// What the controller watches: the SentimentPipelines, and the Deployments, Services and HPAs it owns (by their
// managed-by label), so a change made behind its back is put back; with KEDA_ENABLED also the ScaledObjects and
// TriggerAuthentications it owns, so KEDA's Ready and Active reach the pipeline's status as KEDA sets them; and
// the SentimentReplays. Every change becomes the key ("namespace/name") of the pipeline it concerns, and a
// replay's change also the keys of the replays it concerns; the caches are what reconciles read instead of the
// API server.
// Either across all namespaces, or (a namespaced install, WATCH_NAMESPACES) one watch per listed namespace, so
// the operator needs rights only there and never sees a pipeline elsewhere. Secrets are not watched: a reconcile
// reads the few a pipeline names, by name, and the periodic resync picks up a rotated one.
import type {
  AppsV1Api,
  AutoscalingV2Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  KubernetesListObject,
  KubernetesObject,
  ObjectCache,
  V1Deployment,
  V1Service,
  V2HorizontalPodAutoscaler,
} from "@kubernetes/client-node";
import { hasApiStatus } from "../kube/api-status.ts";
import { AspectChanges } from "../kube/aspect-changes.ts";
import { type WatchedResource, watchResource } from "../kube/watch.ts";
import { group, plural, type SentimentPipeline, version } from "../pipeline.ts";
import { managedBy, pipelineLabel } from "../render/labels.ts";
import { kedaApiVersion, type ScaledObject, type TriggerAuthentication } from "../render/scaled-object.ts";
import { ReplayPhaseChanges, replayPlural, replaysToLookAt, type SentimentReplay } from "../replay/replay.ts";
import { scaledObjectAspect } from "./keda-changes.ts";

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
  /** Only with KEDA_ENABLED: otherwise the operator may not read KEDA's kinds, and need not. */
  keda: KedaWatches | undefined;
  replays: WatchedResource<SentimentReplay>;
  /** Every watch has listed once: the caches reflect the cluster. */
  synced(): boolean;
  stop(): Promise<void>;
}

export interface KedaWatches {
  scaledObjects: WatchedResource<ScaledObject>;
  triggerAuthentications: WatchedResource<TriggerAuthentication>;
}

/**
 * A watch of KEDA's API that fails, most likely because KEDA is not installed, is started again after this
 * long rather than the usual moment: a reconcile names the missing KEDA in the pipeline's status meanwhile.
 */
const kedaRestartDelayMs = 30_000;

const ownedSelector = `app.kubernetes.io/managed-by=${managedBy}`;

/** A pipeline's key: what the work queue holds and a reconcile is given. */
export function keyOf(object: KubernetesObject): string {
  return `${object.metadata?.namespace ?? ""}/${object.metadata?.name ?? ""}`;
}

function ownerKeyOf(object: KubernetesObject): string | undefined {
  const pipeline = object.metadata?.labels?.[pipelineLabel];
  return pipeline === undefined ? undefined : `${object.metadata?.namespace ?? ""}/${pipeline}`;
}

/** One resource's watch: across all namespaces (namespace undefined), or in one. */
type WatchIn<T> = (namespace: string | undefined) => Promise<WatchedResource<T>>;

/** A watch per namespace, or one across all when `namespaces` is empty, seen as one cache. */
async function watchEach<T>(namespaces: readonly string[], watch: WatchIn<T>): Promise<WatchedResource<T>> {
  if (namespaces.length === 0) return watch(undefined);
  const watched = new Map(
    await Promise.all(namespaces.map(async (namespace) => [namespace, await watch(namespace)] as const)),
  );
  const all = [...watched.values()];
  return {
    cache: {
      get: (name, namespace) =>
        namespace === undefined
          ? all.map((one) => one.cache.get(name)).find((found) => found !== undefined)
          : watched.get(namespace)?.cache.get(name, namespace),
      list: (namespace) =>
        namespace === undefined
          ? all.flatMap((one) => one.cache.list())
          : (watched.get(namespace)?.cache.list(namespace) ?? []),
    },
    synced: () => all.every((one) => one.synced()),
    stop: async () => {
      await Promise.all(all.map((one) => one.stop()));
    },
  };
}

/** The API path of a resource across all namespaces (`in` undefined) or in one. */
function pathIn(prefix: string, resource: string, namespace: string | undefined): string {
  return namespace === undefined ? `${prefix}/${resource}` : `${prefix}/namespaces/${namespace}/${resource}`;
}

/** Watches one of the operator's own kinds (group kubesentiment.io) in each watched namespace (all when none is). */
export function watchOwnKind<T extends KubernetesObject>(
  clients: Pick<WatchClients, "kubeConfig" | "customObjects">,
  namespaces: readonly string[],
  resourcePlural: string,
  onChange: (object: T, cache: Pick<ObjectCache<T>, "get" | "list">) => void,
  onError: (error: unknown) => void,
): Promise<WatchedResource<T>> {
  const { kubeConfig, customObjects } = clients;
  return watchEach<T>(namespaces, (namespace) =>
    watchResource({
      kubeConfig,
      path: pathIn(`/apis/${group}/${version}`, resourcePlural, namespace),
      list: () =>
        (namespace === undefined
          ? customObjects.listClusterCustomObject({ group, version, plural: resourcePlural })
          : customObjects.listNamespacedCustomObject({
              group,
              version,
              namespace,
              plural: resourcePlural,
            })) as Promise<KubernetesListObject<T>>,
      onChange,
      onError,
    }),
  );
}

/** Where changes go: the pipelines' work queue and the replays'. */
export interface Enqueue {
  pipeline(key: string): void;
  replay(key: string): void;
}

/** The pipeline a replay names: its reconcile reads the replay's hold (pauseHolds). */
function replayPipelineKey(replay: SentimentReplay): string {
  return `${replay.metadata.namespace ?? ""}/${replay.spec.pipeline}`;
}

/**
 * Starts the watches, in every namespace or only in `namespaces`; resolves once each has listed, so
 * reconciles see a filled cache.
 */
export async function startWatches(
  clients: WatchClients,
  namespaces: readonly string[],
  /** KEDA_ENABLED: watch KEDA's kinds too. */
  kedaEnabled: boolean,
  enqueue: Enqueue,
  log: (message: string, fields?: Record<string, unknown>) => void,
): Promise<Watches> {
  const { kubeConfig, apps, core, autoscaling, customObjects } = clients;
  const onError = (what: string) => (error: unknown) =>
    log(`watch of ${what} failed; restarting it`, { error: String(error) });
  const enqueueOwner = (object: KubernetesObject) => {
    const key = ownerKeyOf(object);
    if (key !== undefined) enqueue.pipeline(key);
  };
  const labelSelector = ownedSelector;
  /** Watches a kind the operator owns, in each watched namespace (all when none is named). */
  const watchOwned = <T extends KubernetesObject>(
    what: string,
    apiPath: string,
    resource: string,
    listAll: () => Promise<KubernetesListObject<T>>,
    listIn: (namespace: string) => Promise<KubernetesListObject<T>>,
    options: { onChange?: (object: T, cache: ObjectCache<T>) => void; restartDelayMs?: number } = {},
  ) =>
    watchEach<T>(namespaces, (namespace) =>
      watchResource({
        kubeConfig,
        path: pathIn(apiPath, resource, namespace),
        labelSelector,
        list: () => (namespace === undefined ? listAll() : listIn(namespace)),
        onChange: options.onChange ?? enqueueOwner,
        onError: onError(what),
        ...(options.restartDelayMs === undefined ? {} : { restartDelayMs: options.restartDelayMs }),
      }),
    );
  /**
   * One of KEDA's kinds. Where the API server serves no keda.sh (KEDA not installed), the list finds none of
   * them, which is so: the cache is synced, empty, and the operator Ready for its other pipelines.
   */
  const watchKeda = <T extends KubernetesObject>(
    what: string,
    resource: string,
    onChange?: (object: T, cache: ObjectCache<T>) => void,
  ) => {
    const [kedaGroup = "", kedaVersion = ""] = kedaApiVersion.split("/");
    const orNone = async (listing: Promise<object>): Promise<KubernetesListObject<T>> => {
      try {
        return (await listing) as KubernetesListObject<T>;
      } catch (error) {
        if (hasApiStatus(error, 404)) return { items: [], metadata: {} };
        throw error;
      }
    };
    const request = { group: kedaGroup, version: kedaVersion, plural: resource, labelSelector };
    return watchOwned<T>(
      what,
      `/apis/${kedaApiVersion}`,
      resource,
      () => orNone(customObjects.listClusterCustomObject(request)),
      (namespace) => orNone(customObjects.listNamespacedCustomObject({ ...request, namespace })),
      { ...(onChange === undefined ? {} : { onChange }), restartDelayMs: kedaRestartDelayMs },
    );
  };
  const scaledObjectChanges = new AspectChanges<ScaledObject>(scaledObjectAspect);
  const watchKedaKinds = async (): Promise<KedaWatches> => {
    const [scaledObjects, triggerAuthentications] = await Promise.all([
      // KEDA writes its conditions here: a change of them is the pipeline's AutoscalingActive, at once.
      watchKeda<ScaledObject>("KEDA ScaledObjects", "scaledobjects", (scaledObject, cache) => {
        const { name = "", namespace } = scaledObject.metadata;
        if (scaledObjectChanges.changed(scaledObject, cache.get(name, namespace) !== undefined)) {
          enqueueOwner(scaledObject);
        }
      }),
      watchKeda<TriggerAuthentication>("KEDA TriggerAuthentications", "triggerauthentications"),
    ]);
    return { scaledObjects, triggerAuthentications };
  };
  const replayPhases = new ReplayPhaseChanges();
  const [pipelines, deployments, services, hpas, keda, replays] = await Promise.all([
    watchOwnKind<SentimentPipeline>(
      clients,
      namespaces,
      plural,
      (pipeline) => enqueue.pipeline(keyOf(pipeline)),
      onError("SentimentPipelines"),
    ),
    watchOwned<V1Deployment>(
      "Deployments",
      "/apis/apps/v1",
      "deployments",
      () => apps.listDeploymentForAllNamespaces({ labelSelector }),
      (namespace) => apps.listNamespacedDeployment({ namespace, labelSelector }),
    ),
    // Only to notice a Service changed or deleted behind the operator's back: reconcile re-applies it.
    watchOwned<V1Service>(
      "Services",
      "/api/v1",
      "services",
      () => core.listServiceForAllNamespaces({ labelSelector }),
      (namespace) => core.listNamespacedService({ namespace, labelSelector }),
    ),
    watchOwned<V2HorizontalPodAutoscaler>(
      "HorizontalPodAutoscalers",
      "/apis/autoscaling/v2",
      "horizontalpodautoscalers",
      () => autoscaling.listHorizontalPodAutoscalerForAllNamespaces({ labelSelector }),
      (namespace) => autoscaling.listNamespacedHorizontalPodAutoscaler({ namespace, labelSelector }),
    ),
    kedaEnabled ? watchKedaKinds() : undefined,
    // A replay's phase decides whether it holds its pipeline paused, and whether the next replay may start.
    watchOwnKind<SentimentReplay>(
      clients,
      namespaces,
      replayPlural,
      (replay, cache) => {
        const { name = "", namespace } = replay.metadata;
        if (!replayPhases.changed(replay, cache.get(name, namespace) !== undefined)) return;
        enqueue.pipeline(replayPipelineKey(replay));
        for (const one of replaysToLookAt(replay, cache.list(namespace))) enqueue.replay(keyOf(one));
      },
      onError("SentimentReplays"),
    ),
  ]);
  const all = [
    pipelines,
    deployments,
    services,
    hpas,
    replays,
    ...(keda === undefined ? [] : [keda.scaledObjects, keda.triggerAuthentications]),
  ];
  return {
    pipelines,
    deployments,
    services,
    hpas,
    keda,
    replays,
    synced: () => all.every((watched) => watched.synced()),
    stop: async () => {
      await Promise.all(all.map((watched) => watched.stop()));
    },
  };
}
