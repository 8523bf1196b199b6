// The SentimentPipeline resource as the operator sees it: the stored object's shape, and the pipeline with
// every default resolved, which is what every pure renderer and planner takes. crds/ holds the schema; the
// API server applies its defaults, and `resolvePipeline` applies them again so an object written before a
// default existed (or read from a test fixture) renders the same. Every default is decided here and nowhere
// else: readers of a ResolvedPipeline never fall back to one of their own. The worker's own settings take the
// worker's defaults (common/src/worker-env.ts), so the two cannot drift apart.
import type { V1ObjectMeta } from "@kubernetes/client-node";
import { workerIntegerSettings as workerDefaults } from "../../common/src/worker-env.ts";
import type { AclBinding } from "./kafka/acl-plan.ts";

export const group = "kubesentiment.io";
export const version = "v1alpha1";
export const plural = "sentimentpipelines";
export const kind = "SentimentPipeline";
export const apiVersion = `${group}/${version}`;

export type SaslMechanism = "scram-sha-512" | "scram-sha-256";

/** What scales the workers: the operator's own HPA on its lag metric, or a KEDA ScaledObject (render/scaled-object.ts). */
export type AutoscalingProvider = "builtin" | "keda";

/** The Secret, and its key, holding a CA bundle (PEM); `key` defaults to "ca.crt" (caRef). */
export interface CaSecretRef {
  name: string;
  key?: string;
}

export interface SaslLogin {
  mechanism: SaslMechanism;
  secretRef: { name: string };
}

export interface PipelineSpec {
  /** True holds the workers at 0 replicas (see controller/reconcile.ts); default false. */
  paused?: boolean;
  kafka: {
    bootstrapServers: string[];
    tls?: {
      enabled?: boolean;
      caSecretRef?: CaSecretRef;
      certSecretRef?: { name: string };
    };
    sasl?: { mechanism?: SaslMechanism; secretRef: { name: string } };
    /** The operator's own login, when it must not be the workers' (see ResolvedPipeline). */
    admin?: {
      sasl?: { mechanism?: SaslMechanism; secretRef: { name: string } };
      certSecretRef?: { name: string };
    };
    /** Kafka ACLs for the workers' principal; default not managed. */
    acls?: { manage?: boolean; principal?: string };
  };
  topics?: {
    requests?: string;
    responses?: string;
    deadLetter?: string;
    partitions?: number;
    replicationFactor?: number;
    config?: Record<string, string>;
    deletionPolicy?: "Retain" | "Delete";
  };
  model?: {
    source?: {
      builtin?: Record<string, never>;
      volume?: { claimName: string; subPath?: string };
      url?: { url: string; sha256: string; caSecretRef?: CaSecretRef };
    };
    maxSequenceLength?: number;
    threads?: number;
    intraOpThreads?: number;
  };
  worker?: {
    image?: string;
    resources?: { requests?: Record<string, string | number>; limits?: Record<string, string | number> };
    batch?: { maxSize?: number; maxWaitMs?: number };
    retry?: { maxAttempts?: number; initialBackoffMs?: number; maxBackoffMs?: number };
    circuitBreaker?: { failureThreshold?: number; resetTimeoutMs?: number };
  };
  autoscaling?: {
    provider?: AutoscalingProvider;
    minReplicas?: number;
    maxReplicas?: number;
    lagThreshold?: number;
    activationLagThreshold?: number;
    scaleToZeroAfterSeconds?: number;
    scaleDownStabilizationSeconds?: number;
  };
}

export interface Condition {
  type: ConditionType;
  status: "True" | "False" | "Unknown";
  observedGeneration?: number;
  lastTransitionTime: string;
  reason: string;
  message: string;
}

export type ConditionType =
  | "Ready"
  | "TopicsReady"
  | "AclsReady"
  | "WorkersAvailable"
  | "AutoscalingActive"
  | "Paused";

export interface PipelineStatus {
  observedGeneration?: number;
  conditions?: Condition[];
  topics?: {
    requests: string;
    responses: string;
    deadLetter: string;
    partitions: number;
    /**
     * Those of the topics the operator created for this pipeline: the only ones deletionPolicy Delete deletes.
     * A topic that was there before (adopted) is never deleted. Absent in a status an older version wrote.
     */
    created?: string[];
  };
  replicas?: number;
  readyReplicas?: number;
  desiredReplicas?: number;
  consumerLag?: number;
  lastActiveTime?: string;
  /** The requests topic's log end offsets summed, as last read; kept with lastActiveTime for scale to zero. */
  requestsLogEndOffset?: number;
  /** While the operator manages the workers' ACLs (spec.kafka.acls.manage). */
  acls?: {
    /**
     * The ACL bindings the operator holds granted for the workers: the only ones it revokes when the workers'
     * principal or the topics change, and deletes with the pipeline.
     */
    granted: AclBinding[];
  };
}

export interface SentimentPipeline {
  apiVersion: string;
  kind: string;
  metadata: V1ObjectMeta;
  spec: PipelineSpec;
  status?: PipelineStatus;
}

export type ModelSource =
  | { kind: "builtin" }
  | { kind: "volume"; claimName: string; subPath: string | undefined }
  | {
      kind: "url";
      url: string;
      sha256: string;
      /** A private CA the fetcher trusts besides the public roots; undefined: the public roots alone. */
      caSecretRef: Required<CaSecretRef> | undefined;
    };

/** A pipeline with every default applied and every derived name decided. */
export interface ResolvedPipeline {
  name: string;
  namespace: string;
  uid: string;
  generation: number;
  /** spec.paused: the workers are held at 0 replicas, whatever autoscaling would choose. */
  paused: boolean;
  kafka: {
    bootstrapServers: string[];
    /** Undefined when TLS is off: no spec.kafka.tls, or tls.enabled false. */
    tls:
      | {
          /** Undefined: the system's CAs. */
          caSecretRef: Required<CaSecretRef> | undefined;
          /** A kubernetes.io/tls Secret (tls.crt, tls.key); undefined: no client certificate. */
          certSecretRef: { name: string } | undefined;
        }
      | undefined;
    sasl: SaslLogin | undefined;
    /**
     * The operator's own login, replacing the workers' SASL login (none when admin.sasl is unset) and, when
     * admin.certSecretRef is set, their client certificate; CA and TLS on or off stay the workers'. Undefined:
     * the operator logs in as the workers do.
     */
    admin: { sasl: SaslLogin | undefined; certSecretRef: { name: string } | undefined } | undefined;
    /** Whether the operator grants the workers' principal their ACLs; `principal` overrides the derived one. */
    acls: { manage: boolean; principal: string | undefined };
  };
  topics: {
    requests: string;
    responses: string;
    deadLetter: string;
    partitions: number;
    replicationFactor: number;
    config: Record<string, string>;
    deletionPolicy: "Retain" | "Delete";
  };
  /** The consumer group every worker of this pipeline joins. */
  consumerGroup: string;
  model: { source: ModelSource; maxSequenceLength: number; threads: number; intraOpThreads: number };
  worker: {
    image: string | undefined;
    resources: NonNullable<NonNullable<PipelineSpec["worker"]>["resources"]>;
    batch: { maxSize: number; maxWaitMs: number };
    retry: { maxAttempts: number; initialBackoffMs: number; maxBackoffMs: number };
    circuitBreaker: { failureThreshold: number; resetTimeoutMs: number };
  };
  autoscaling: {
    provider: AutoscalingProvider;
    minReplicas: number;
    maxReplicas: number;
    lagThreshold: number;
    activationLagThreshold: number;
    scaleToZeroAfterSeconds: number;
    scaleDownStabilizationSeconds: number;
  };
}

function saslLogin(sasl: NonNullable<PipelineSpec["kafka"]["sasl"]> | undefined): SaslLogin | undefined {
  return sasl === undefined
    ? undefined
    : { mechanism: sasl.mechanism ?? "scram-sha-512", secretRef: sasl.secretRef };
}

function caRef(ref: CaSecretRef | undefined): Required<CaSecretRef> | undefined {
  return ref === undefined ? undefined : { name: ref.name, key: ref.key ?? "ca.crt" };
}

function kafkaSettings(kafka: PipelineSpec["kafka"]): ResolvedPipeline["kafka"] {
  const { tls, sasl, admin, acls } = kafka;
  return {
    bootstrapServers: kafka.bootstrapServers,
    tls:
      tls === undefined || tls.enabled === false
        ? undefined
        : {
            caSecretRef: caRef(tls.caSecretRef),
            certSecretRef: tls.certSecretRef,
          },
    sasl: saslLogin(sasl),
    admin:
      admin === undefined ? undefined : { sasl: saslLogin(admin.sasl), certSecretRef: admin.certSecretRef },
    acls: { manage: acls?.manage ?? false, principal: acls?.principal },
  };
}

type TopicRole = "requests" | "responses" | "deadLetter";

const topicSuffixes: Record<TopicRole, string> = {
  requests: "-requests",
  responses: "-responses",
  deadLetter: "-dlq",
};

/**
 * A role's default topic name, "<namespace>.<name>-requests": unique per pipeline on a shared Kafka. The '.' is
 * unambiguous because neither part can contain one (a namespace is a DNS label; the CRD holds the name to
 * lowercase letters, digits and dashes), which a '-' would not be ("a-b" + "c" and "a" + "b-c"). Kafka warns
 * that '.' and '_' collide in metric names; neither part can contain a '_' either, so a default name can meet
 * only a topic someone named with a '_' on purpose, and Kafka refuses to create that collision rather than
 * mixing the two. At most 63 + 1 + 56 + 10 characters: within Kafka's 249.
 */
function defaultTopicName(namespace: string, name: string, role: TopicRole): string {
  return `${namespace}.${name}${topicSuffixes[role]}`;
}

/**
 * Versions before namespaced defaults named a pipeline's topics "<name>-requests" and so on. A pipeline whose
 * status records such a name for a role its spec leaves unset keeps it: an upgrade never moves a running
 * pipeline to new, empty topics.
 */
function topicName(pipeline: SentimentPipeline, namespace: string, name: string, role: TopicRole): string {
  const chosen = pipeline.spec.topics?.[role];
  if (chosen !== undefined) return chosen;
  const legacy = `${name}${topicSuffixes[role]}`;
  return pipeline.status?.topics?.[role] === legacy ? legacy : defaultTopicName(namespace, name, role);
}

/** A spec the operator refuses; `pipeline` is what it resolves to all the same (deletion still needs it). */
export class InvalidPipelineError extends Error {
  constructor(
    readonly reason: string,
    message: string,
    readonly pipeline: ResolvedPipeline,
  ) {
    super(message);
    this.name = "InvalidPipelineError";
  }
}

const roleFields: Record<TopicRole, string> = {
  requests: "spec.topics.requests",
  responses: "spec.topics.responses",
  deadLetter: "spec.topics.deadLetter",
};

/**
 * One topic in two roles would feed the worker's own output back in as requests. The CRD refuses two equal
 * names in the spec; this also catches a name equal to another role's default, which admission cannot always
 * see (the namespace, an old default kept in status).
 */
function topicRolesProblem(pipeline: SentimentPipeline, resolved: ResolvedPipeline): string | undefined {
  const roles: TopicRole[] = ["requests", "responses", "deadLetter"];
  const field = (role: TopicRole) =>
    pipeline.spec.topics?.[role] === undefined
      ? `${roleFields[role]} (unset, so "${resolved.topics[role]}")`
      : roleFields[role];
  for (const [index, role] of roles.entries()) {
    const other = roles.slice(index + 1).find((later) => resolved.topics[later] === resolved.topics[role]);
    if (other !== undefined) {
      return (
        `${field(role)} and ${field(other)} name the same topic "${resolved.topics[role]}": the worker reads ` +
        "the requests topic and writes the other two, so each role needs a topic of its own; set the " +
        "explicit one to another name"
      );
    }
  }
  return undefined;
}

function modelSource(source: NonNullable<PipelineSpec["model"]>["source"]): ModelSource {
  if (source?.volume !== undefined) {
    return { kind: "volume", claimName: source.volume.claimName, subPath: source.volume.subPath };
  }
  if (source?.url !== undefined) {
    const { url, sha256, caSecretRef } = source.url;
    return { kind: "url", url, sha256, caSecretRef: caRef(caSecretRef) };
  }
  return { kind: "builtin" };
}

/**
 * The pipeline with every default applied. Throws an InvalidPipelineError for a spec the operator refuses
 * (one topic in two roles).
 */
export function resolvePipeline(pipeline: SentimentPipeline): ResolvedPipeline {
  const resolved = resolveDefaults(pipeline);
  const problem = topicRolesProblem(pipeline, resolved);
  if (problem !== undefined) throw new InvalidPipelineError("TopicRolesOverlap", problem, resolved);
  return resolved;
}

/**
 * resolvePipeline, with a refused spec given back beside what it resolves to instead of thrown: deletion and
 * other pipelines' claims go by the names a pipeline uses, refused or not.
 */
export function resolvePipelineOrRefusal(pipeline: SentimentPipeline): {
  pipeline: ResolvedPipeline;
  refusal: InvalidPipelineError | undefined;
} {
  try {
    return { pipeline: resolvePipeline(pipeline), refusal: undefined };
  } catch (error) {
    if (error instanceof InvalidPipelineError) return { pipeline: error.pipeline, refusal: error };
    throw error;
  }
}

function resolveDefaults(pipeline: SentimentPipeline): ResolvedPipeline {
  const { metadata, spec } = pipeline;
  const name = metadata.name ?? "";
  const namespace = metadata.namespace ?? "default";
  const topics = spec.topics ?? {};
  const worker = spec.worker ?? {};
  const autoscaling = spec.autoscaling ?? {};
  return {
    name,
    namespace,
    uid: metadata.uid ?? "",
    generation: metadata.generation ?? 0,
    paused: spec.paused ?? false,
    kafka: kafkaSettings(spec.kafka),
    topics: {
      requests: topicName(pipeline, namespace, name, "requests"),
      responses: topicName(pipeline, namespace, name, "responses"),
      deadLetter: topicName(pipeline, namespace, name, "deadLetter"),
      partitions: topics.partitions ?? 8,
      replicationFactor: topics.replicationFactor ?? 3,
      config: topics.config ?? {},
      deletionPolicy: topics.deletionPolicy ?? "Retain",
    },
    // Namespaced so two pipelines of the same name in different namespaces never share a group.
    consumerGroup: `kubesentiment.${namespace}.${name}`,
    model: {
      source: modelSource(spec.model?.source),
      maxSequenceLength: spec.model?.maxSequenceLength ?? workerDefaults.MODEL_MAX_SEQUENCE_LENGTH.fallback,
      threads: spec.model?.threads ?? workerDefaults.MODEL_THREADS.fallback,
      intraOpThreads: spec.model?.intraOpThreads ?? workerDefaults.MODEL_INTRA_OP_THREADS.fallback,
    },
    worker: {
      image: worker.image,
      resources: worker.resources ?? {},
      batch: {
        maxSize: worker.batch?.maxSize ?? workerDefaults.BATCH_MAX_SIZE.fallback,
        maxWaitMs: worker.batch?.maxWaitMs ?? workerDefaults.BATCH_MAX_WAIT_MS.fallback,
      },
      retry: {
        maxAttempts: worker.retry?.maxAttempts ?? workerDefaults.RETRY_MAX_ATTEMPTS.fallback,
        initialBackoffMs: worker.retry?.initialBackoffMs ?? workerDefaults.RETRY_INITIAL_BACKOFF_MS.fallback,
        maxBackoffMs: worker.retry?.maxBackoffMs ?? workerDefaults.RETRY_MAX_BACKOFF_MS.fallback,
      },
      circuitBreaker: {
        failureThreshold:
          worker.circuitBreaker?.failureThreshold ?? workerDefaults.BREAKER_FAILURE_THRESHOLD.fallback,
        resetTimeoutMs:
          worker.circuitBreaker?.resetTimeoutMs ?? workerDefaults.BREAKER_RESET_TIMEOUT_MS.fallback,
      },
    },
    autoscaling: {
      provider: autoscaling.provider ?? "builtin",
      minReplicas: autoscaling.minReplicas ?? 1,
      maxReplicas: autoscaling.maxReplicas ?? 8,
      lagThreshold: autoscaling.lagThreshold ?? 1000,
      activationLagThreshold: autoscaling.activationLagThreshold ?? 0,
      scaleToZeroAfterSeconds: autoscaling.scaleToZeroAfterSeconds ?? 300,
      scaleDownStabilizationSeconds: autoscaling.scaleDownStabilizationSeconds ?? 300,
    },
  };
}
