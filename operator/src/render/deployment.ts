// The worker Deployment of a pipeline. spec.replicas is deliberately absent: the HPA owns the replica count, and
// an applied value would fight it on every reconcile (the operator sets replicas itself, through the scale
// subresource, only to scale to zero and back and to hold a paused pipeline at 0).
import type {
  V1Container,
  V1Deployment,
  V1PodSecurityContext,
  V1Probe,
  V1ResourceRequirements,
  V1SecurityContext,
} from "@kubernetes/client-node";
import type { ResolvedPipeline } from "../pipeline.ts";
import { sha256Of } from "./checksum.ts";
import { selectorLabels, workerLabels, workerObjectMeta } from "./labels.ts";
import { modelPodParts } from "./model-source.ts";
import {
  kafkaTlsPodParts,
  renderWorkerEnv,
  workerHttpPort,
  workerHttpPortName,
  workerShutdownTimeoutMs,
} from "./worker-env.ts";

export const configChecksumAnnotation = "kubesentiment.io/config-checksum";
const workerContainerName = "worker";

/** The worker image's unprivileged user and group (Dockerfile: USER 1000:1000). */
const workerUid = 1000;

/**
 * Used when the spec sets no resources. No CPU limit: CFS throttling stalls a pod for the rest of its 100 ms
 * period, which lands directly on the batch latency (the P99 target is 20 ms), while the request alone already
 * guarantees the worker its share; scaling follows consumer lag, not CPU. A memory limit, because memory is not
 * compressible: a worker that grows past it is restarted alone instead of pressuring its node's neighbours.
 */
const defaultResources = {
  requests: { cpu: "500m", memory: "512Mi" },
  limits: { memory: "1Gi" },
};

export interface WorkerDeploymentOptions {
  /** The worker image matching the operator's release, used unless the spec names one. */
  defaultImage: string;
}

/** Quantities as strings (the spec allows integers), or undefined when none is set. */
function quantities(values: Record<string, string | number> | undefined): Record<string, string> | undefined {
  const entries = Object.entries(values ?? {});
  return entries.length === 0
    ? undefined
    : Object.fromEntries(entries.map(([name, quantity]) => [name, String(quantity)]));
}

/**
 * The spec's resources verbatim when it sets any, the defaults otherwise. Never a mix of the two: a default
 * request beside the user's smaller limit (or the reverse) would make a pod the API server refuses.
 */
export function workerResources(resources: ResolvedPipeline["worker"]["resources"]): V1ResourceRequirements {
  const requests = quantities(resources.requests);
  const limits = quantities(resources.limits);
  if (requests === undefined && limits === undefined) return structuredClone(defaultResources);
  return { ...(requests === undefined ? {} : { requests }), ...(limits === undefined ? {} : { limits }) };
}

function podSecurityContext(): V1PodSecurityContext {
  return {
    runAsNonRoot: true,
    runAsUser: workerUid,
    runAsGroup: workerUid,
    seccompProfile: { type: "RuntimeDefault" },
  };
}

/** Also set per container, so it holds even where a policy reads only the container's own context. */
function containerSecurityContext(): V1SecurityContext {
  return {
    runAsNonRoot: true,
    runAsUser: workerUid,
    runAsGroup: workerUid,
    readOnlyRootFilesystem: true,
    allowPrivilegeEscalation: false,
    capabilities: { drop: ["ALL"] },
    seccompProfile: { type: "RuntimeDefault" },
  };
}

function httpProbe(path: string, periodSeconds: number, failureThreshold: number): V1Probe {
  return { httpGet: { path, port: workerHttpPortName }, periodSeconds, timeoutSeconds: 2, failureThreshold };
}

function probes(): Pick<V1Container, "startupProbe" | "livenessProbe" | "readinessProbe"> {
  return {
    // The worker opens its HTTP port only once the model is loaded and its Kafka clients are connected: allow
    // up to 5 minutes for that before liveness takes over (a worker that cannot connect exits on its own).
    startupProbe: httpProbe("/healthz", 5, 60),
    // /healthz fails only when the consumer crashed for good; 30 s of failures is not a blip.
    livenessProbe: httpProbe("/healthz", 10, 3),
    // /readyz is false outside the consumer group and while the circuit breaker is open.
    readinessProbe: httpProbe("/readyz", 5, 2),
  };
}

export function renderWorkerDeployment(
  pipeline: ResolvedPipeline,
  options: WorkerDeploymentOptions,
): V1Deployment {
  const image = pipeline.worker.image ?? options.defaultImage;
  const env = renderWorkerEnv(pipeline);
  const shared = {
    image,
    resources: workerResources(pipeline.worker.resources),
    securityContext: containerSecurityContext(),
    // Neither the worker nor fetch-model writes /dev/termination-log: a container that fails is given its log's
    // tail as its termination message, whose last line is the reason each prints before it exits non-zero, and
    // the pipeline's WorkersAvailable condition quotes it (controller/pod-failures.ts).
    terminationMessagePolicy: "FallbackToLogsOnError",
  };
  const model = modelPodParts(pipeline.model.source, shared);
  const kafkaTls = kafkaTlsPodParts(pipeline);
  // Rolls the pods on any change of what the worker is told, and only then: the same spec digests the same.
  // The Secrets' names are in it (the SASL one through env), never their contents, which the operator does not
  // read for this: the worker reads its credentials at start, so rotating them takes a rollout restart.
  const checksum = sha256Of({
    env,
    image,
    modelSource: pipeline.model.source,
    // Absent without TLS, so pipelines without it keep their checksum.
    kafkaTlsVolumes: kafkaTls.volumes.length > 0 ? kafkaTls.volumes : undefined,
  });
  const worker: V1Container = {
    ...shared,
    name: workerContainerName,
    env,
    ports: [{ name: workerHttpPortName, containerPort: workerHttpPort, protocol: "TCP" }],
    ...probes(),
    volumeMounts: [{ name: "tmp", mountPath: "/tmp" }, ...model.workerMounts, ...kafkaTls.workerMounts],
  };
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: workerObjectMeta(pipeline),
    spec: {
      selector: { matchLabels: selectorLabels(pipeline) },
      // Never below the current capacity during a roll-out: a missing consumer is lag at once. A surge pod
      // may find no partition free for a moment; it costs a rebalance, not messages.
      strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: "25%", maxUnavailable: 0 } },
      template: {
        metadata: {
          labels: workerLabels(pipeline),
          annotations: {
            [configChecksumAnnotation]: checksum,
            // `kubectl logs` picks the worker, not the model fetcher.
            "kubectl.kubernetes.io/default-container": workerContainerName,
          },
        },
        spec: {
          // The worker never calls the Kubernetes API; no token means none to steal.
          automountServiceAccountToken: false,
          // Service links would add variables for every Service in the namespace to the worker's contract
          // (a Service named "http" sets HTTP_PORT, shadowed only because ours is explicit).
          enableServiceLinks: false,
          // The worker's own shutdown bound plus a margin, so it exits by itself before any SIGKILL.
          terminationGracePeriodSeconds: Math.ceil(workerShutdownTimeoutMs / 1000) + 5,
          securityContext: podSecurityContext(),
          ...(model.initContainers.length > 0 ? { initContainers: model.initContainers } : {}),
          containers: [worker],
          volumes: [
            // The only writable path besides the model volume: the root file system is read-only.
            { name: "tmp", emptyDir: { sizeLimit: "128Mi" } },
            ...model.volumes,
            ...kafkaTls.volumes,
          ],
        },
      },
    },
  };
}
