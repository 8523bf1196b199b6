// Stand-ins for what a Reconciler talks to: the API server (caches, server-side apply, the status subresource,
// the scale subresource, Events) and Kafka (the TopicsPort). Every call is written to one list, `did`, in the
// order it happened, so a test can say what a reconcile did and in which order; nothing waits or sleeps.
import {
  ApiException,
  type AppsV1ApiDeleteNamespacedDeploymentRequest,
  type AppsV1ApiPatchNamespacedDeploymentScaleRequest,
  type CustomObjectsApiPatchNamespacedCustomObjectStatusRequest,
  type KubernetesObject,
  type V1Deployment,
  type V1DeploymentStatus,
  type V1Pod,
  type V1Scale,
  type V1Status,
  type V2HorizontalPodAutoscaler,
} from "@kubernetes/client-node";
import type { KedaCaches } from "../../../operator/src/controller/autoscaler.ts";
import type {
  AclsOutcome,
  AclsPort,
  EnsuredTopics,
  ReconcilerDeps,
  TopicsPort,
} from "../../../operator/src/controller/reconcile.ts";
import type { AclBinding } from "../../../operator/src/kafka/acl-plan.ts";
import type { ConsumerLag } from "../../../operator/src/kafka/lag.ts";
import {
  apiVersion,
  kind,
  type PipelineSpec,
  type PipelineStatus,
  type ResolvedPipeline,
  type SentimentPipeline,
} from "../../../operator/src/pipeline.ts";

export const resyncPeriodMs = 30_000;
export const now = new Date("2026-12-01T08:00:00Z");

/** The pipeline shop/reviews at generation 1, with `spec` over a small default one. */
export function pipelineObject(
  spec: Partial<PipelineSpec> = {},
  metadata: Partial<SentimentPipeline["metadata"]> = {},
  status?: PipelineStatus,
): SentimentPipeline {
  return {
    apiVersion,
    kind,
    metadata: { name: "reviews", namespace: "shop", uid: "uid-1", generation: 1, ...metadata },
    spec: {
      kafka: { bootstrapServers: ["k:9092"] },
      topics: { partitions: 4, replicationFactor: 1 },
      ...spec,
    },
    ...(status === undefined ? {} : { status }),
  };
}

/** Kafka as the reconcile sees it: `ensured` is what the next ensure answers; `deleteFailure` what delete throws. */
export class FakeKafka implements TopicsPort {
  ensured: EnsuredTopics = {
    outcome: { state: "ready" },
    changes: [],
    lag: undefined,
    terminal: false,
    created: [],
  };
  deleteFailure: Error | undefined;
  /** Each ensure's word on whether the topics were ready when last reported. */
  readonly wereReady: boolean[] = [];

  constructor(private readonly did: string[]) {}

  async ensure(pipeline: ResolvedPipeline, hint: { wereReady: boolean }): Promise<EnsuredTopics> {
    this.did.push(`ensure topics of ${pipeline.name}`);
    this.wereReady.push(hint.wereReady);
    return this.ensured;
  }

  async delete(pipeline: ResolvedPipeline, topics: readonly string[]): Promise<void> {
    this.did.push(`delete topics [${topics.join(", ")}] of ${pipeline.name}`);
    if (this.deleteFailure !== undefined) throw this.deleteFailure;
  }

  async lag(): Promise<ConsumerLag> {
    throw new Error("a reconcile reads the lag through ensure");
  }
}

/** The ACL side: answers `ensured`; what it was told was granted before, and deletions, recorded in `did`. */
export class FakeAcls implements AclsPort {
  ensured: AclsOutcome = { condition: undefined, changes: [], terminal: false };

  constructor(private readonly did: string[]) {}

  async ensure(pipeline: ResolvedPipeline, granted: readonly AclBinding[]): Promise<AclsOutcome> {
    if (granted.length > 0)
      this.did.push(`ensure acls of ${pipeline.name}, granted before ${bindings(granted)}`);
    return this.ensured;
  }

  async delete(pipeline: ResolvedPipeline, granted: readonly AclBinding[]): Promise<void> {
    const before = granted.length === 0 ? "" : `, granted before ${bindings(granted)}`;
    this.did.push(`delete acls of ${pipeline.name}${before}`);
  }
}

/** "User:a Read topic t, ..." */
function bindings(granted: readonly AclBinding[]): string {
  return granted
    .map(
      (binding) =>
        `${binding.principal} ${binding.operation} ${binding.resourceType} ${binding.resourceName}`,
    )
    .join(", ");
}

/** The API server: caches keyed "namespace/name", and every write recorded in `did`. */
export class FakeCluster {
  readonly did: string[] = [];
  readonly kafka = new FakeKafka(this.did);
  readonly acls = new FakeAcls(this.did);
  /** The informer cache of pipelines. */
  readonly pipelines = new Map<string, SentimentPipeline>();
  /** The API server's own copy where it is ahead of the cache; otherwise a read answers from `pipelines`. */
  readonly latest = new Map<string, SentimentPipeline>();
  readonly deployments = new Map<string, V1Deployment>();
  readonly hpas = new Map<string, V2HorizontalPodAutoscaler>();
  /** What server-side apply stored of the other kinds (KEDA's), keyed "Kind namespace/name". */
  readonly others = new Map<string, KubernetesObject>();
  /** What KEDA reports on an applied ScaledObject. */
  scaledObjectStatus: object | undefined;
  /** Every status written, in order. */
  readonly statuses: PipelineStatus[] = [];
  /** Every Event recorded, as "Type Reason: message". */
  readonly events: string[] = [];
  /** The pods there are, in any namespace; a list of them is recorded in `did`. */
  pods: V1Pod[] = [];
  /** The Secrets there are, keyed "namespace/name"; a read of one is recorded in `did`. */
  readonly secrets = new Map<string, Record<string, Buffer>>();
  /** What the Deployment controller reports for an applied Deployment. */
  deploymentStatus: V1DeploymentStatus = {
    replicas: 1,
    readyReplicas: 1,
    availableReplicas: 1,
    updatedReplicas: 1,
  };

  add(pipeline: SentimentPipeline): string {
    const key = `${pipeline.metadata.namespace}/${pipeline.metadata.name}`;
    this.pipelines.set(key, pipeline);
    return key;
  }

  deps(overrides: Partial<ReconcilerDeps> = {}): ReconcilerDeps {
    const cache = <T>(objects: Map<string, T>) => ({
      get: (name: string, namespace?: string) => objects.get(`${namespace}/${name}`),
      list: () => [...objects.values()],
    });
    return {
      apps: {
        patchNamespacedDeploymentScale: (request) => this.#scale(request),
        readNamespacedDeployment: async ({ name, namespace }) =>
          found(this.deployments.get(`${namespace}/${name}`)),
        deleteNamespacedDeployment: (request) => this.#deleteDeployment(request),
      },
      pipelines: cache(this.pipelines),
      deployments: cache(this.deployments),
      hpas: cache(this.hpas),
      readSecret: async (namespace, name) => {
        this.did.push(`read secret ${namespace}/${name}`);
        return this.secrets.get(`${namespace}/${name}`);
      },
      pods: async (namespace, labels) => {
        const selector = Object.entries(labels).map(([key, value]) => `${key}=${value}`);
        this.did.push(`list pods in ${namespace} with ${selector.join(",")}`);
        return this.pods.filter(
          (pod) =>
            pod.metadata?.namespace === namespace &&
            Object.entries(labels).every(([key, value]) => pod.metadata?.labels?.[key] === value),
        );
      },
      objects: {
        patch: (object) => this.#apply(object),
        delete: async (object) => {
          this.did.push(`delete ${otherKey(object)}`);
          this.others.delete(otherKey(object));
          this.hpas.delete(`${object.metadata?.namespace}/${object.metadata?.name}`);
          return {};
        },
      },
      customObjects: {
        patchNamespacedCustomObjectStatus: (request) => this.#writeStatus(request),
        getNamespacedCustomObject: async ({ name, namespace }) => {
          const key = `${namespace}/${name}`;
          return found(this.latest.get(key) ?? this.pipelines.get(key));
        },
      },
      events: {
        record: async (_pipeline, type, reason, message) => {
          this.did.push(`event ${type} ${reason}`);
          this.events.push(`${type} ${reason}: ${message}`);
        },
        forget: () => {},
      },
      topics: this.kafka,
      acls: this.acls,
      defaultWorkerImage: "example/worker:1",
      resyncPeriodMs,
      log: () => {},
      now: () => now,
      ...overrides,
    };
  }

  /** The watches' caches of KEDA's kinds, over `others`: what a reconcile gets with KEDA_ENABLED. */
  kedaCaches(): KedaCaches {
    const cacheOf = (kind: string) => ({
      get: (name: string, namespace?: string) => this.others.get(`${kind} ${namespace}/${name}`),
    });
    return {
      scaledObjects: cacheOf("ScaledObject"),
      triggerAuthentications: cacheOf("TriggerAuthentication"),
    };
  }

  /** Server-side apply: answers with the object as stored, a Deployment with its defaults and status. */
  async #apply<T extends KubernetesObject>(object: T): Promise<T> {
    const { namespace, name, finalizers } = object.metadata ?? {};
    if (object.kind === kind) {
      this.did.push(`apply finalizers [${(finalizers ?? []).join(", ")}] to ${name}`);
      return object;
    }
    this.did.push(`apply ${object.kind} ${namespace}/${name}`);
    if (object.kind === "ScaledObject" || object.kind === "TriggerAuthentication") {
      const stored = object.kind === "ScaledObject" ? { ...object, status: this.scaledObjectStatus } : object;
      this.others.set(otherKey(object), stored);
      return stored;
    }
    if (object.kind !== "Deployment") return object;
    const deployment = object as V1Deployment;
    // The rendered Deployment leaves replicas out, so an apply keeps what the scale subresource set (1 at first).
    const replicas = this.deployments.get(`${namespace}/${name}`)?.spec?.replicas ?? 1;
    const stored: V1Deployment = {
      ...deployment,
      spec: { ...(deployment.spec ?? { selector: {}, template: {} }), replicas },
      status: this.deploymentStatus,
    };
    this.deployments.set(`${namespace}/${name}`, stored);
    return stored as T;
  }

  async #writeStatus(request: CustomObjectsApiPatchNamespacedCustomObjectStatusRequest): Promise<unknown> {
    this.did.push(`write status of ${request.name}`);
    const status = (request.body as { status: PipelineStatus }).status;
    this.statuses.push(status);
    return request.body;
  }

  /** Marks the Deployment as being deleted; a test removes it to say its pods are gone. */
  async #deleteDeployment(request: AppsV1ApiDeleteNamespacedDeploymentRequest): Promise<V1Status> {
    const key = `${request.namespace}/${request.name}`;
    this.did.push(`delete Deployment ${key} (${request.propagationPolicy})`);
    const deployment = found(this.deployments.get(key));
    this.deployments.set(key, {
      ...deployment,
      metadata: { ...deployment.metadata, deletionTimestamp: now },
    });
    return {};
  }

  async #scale(request: AppsV1ApiPatchNamespacedDeploymentScaleRequest): Promise<V1Scale> {
    const [patch] = request.body as { value: number }[];
    this.did.push(`scale ${request.namespace}/${request.name} to ${patch?.value}`);
    const key = `${request.namespace}/${request.name}`;
    const deployment = this.deployments.get(key);
    if (deployment?.spec !== undefined && patch !== undefined) {
      this.deployments.set(key, { ...deployment, spec: { ...deployment.spec, replicas: patch.value } });
    }
    return {};
  }
}

function otherKey(object: {
  kind?: string | undefined;
  metadata?: { name?: string | undefined; namespace?: string | undefined } | undefined;
}): string {
  return `${object.kind} ${object.metadata?.namespace}/${object.metadata?.name}`;
}

/** What the API server answers for an object: the object, or a 404. */
function found<T>(object: T | undefined): T {
  if (object === undefined) throw new ApiException(404, "not found", {}, {});
  return object;
}

export function conditionOf(status: PipelineStatus | undefined, type: string) {
  return status?.conditions?.find((condition) => condition.type === type);
}
