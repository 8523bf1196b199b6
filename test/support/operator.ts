// Test plumbing for the operator on a real control plane and a real Kafka: the operator started in-process
// against the test cluster's kubeconfig, the cluster prepared for it, pipeline manifests and their conditions.
import { join } from "node:path";
import { createLogger } from "../../common/src/logger.ts";
import { repoRoot } from "../../hack/harness/dirs.ts";
import { kafkaClient } from "../../hack/harness/kafka-client.ts";
import type { Kubectl } from "../../hack/harness/kubectl.ts";
import { waitFor } from "../../hack/harness/wait.ts";
import { type OperatorConfig, parseOperatorConfig } from "../../operator/src/config.ts";
import { type RunningOperator, startOperator } from "../../operator/src/operator.ts";
import type { PipelineSpec, SentimentPipeline } from "../../operator/src/pipeline.ts";

export const operatorNamespace = "kubesentiment-system";

export function operatorConfig(overrides: Partial<OperatorConfig> = {}): OperatorConfig {
  const parsed = parseOperatorConfig({ OPERATOR_NAMESPACE: operatorNamespace, HTTP_PORT: "0" });
  if (!parsed.ok) throw new Error(parsed.problems.join("; "));
  return { ...parsed.config, resyncPeriodMs: 5_000, leaderElection: false, ...overrides };
}

export function runOperator(
  kubeconfigPath: string,
  overrides: Partial<OperatorConfig> = {},
): Promise<RunningOperator> {
  const config = operatorConfig(overrides);
  return startOperator({
    config,
    kubeconfigPath,
    logger: createLogger("kubesentiment-operator", process.env.OPERATOR_TEST_LOG_LEVEL ?? "error", {
      identity: config.identity,
    }),
  });
}

const crdDir = join(repoRoot, "crds");

/** What every operator test needs in a fresh cluster: the CRDs, Established, and the operator's namespace. */
export function prepareCluster(k: Kubectl): void {
  // The directory's own files only (not samples/): every kind the operator watches.
  k.run(["apply", "-f", crdDir]);
  k.run(["wait", "--for=condition=Established", "crd", "--all", "--timeout=30s"]);
  k.run(["create", "namespace", operatorNamespace]);
}

export function pipelineManifest(
  name: string,
  spec: PipelineSpec,
  annotations: Record<string, string> = {},
  namespace = "default",
): string {
  return JSON.stringify({
    apiVersion: "kubesentiment.io/v1alpha1",
    kind: "SentimentPipeline",
    metadata: { name, namespace, annotations },
    spec,
  });
}

/** `kubectl get events` of the object named `name` in `namespace`, as a person reads them. */
export function eventsOf(k: Kubectl, name: string, namespace = "default"): string {
  return k.run(["get", "events", "-n", namespace, "--field-selector", `involvedObject.name=${name}`]);
}

export function conditionOf(pipeline: SentimentPipeline | undefined, type: string) {
  return pipeline?.status?.conditions?.find((condition) => condition.type === type);
}

/** The pipeline once Ready for its current generation; fails after `timeoutMs` with its conditions. */
export function readyPipeline(k: Kubectl, name: string, namespace = "default", timeoutMs = 90_000) {
  const get = () => k.getJson<SentimentPipeline>(["sentimentpipeline", name, "-n", namespace]);
  return waitFor(
    `pipeline ${namespace}/${name} Ready`,
    () => {
      const pipeline = get();
      return conditionOf(pipeline, "Ready")?.status === "True" &&
        pipeline?.status?.observedGeneration === pipeline?.metadata.generation
        ? pipeline
        : undefined;
    },
    { timeoutMs, describe: () => JSON.stringify(get()?.status?.conditions) },
  );
}

/** The topics a Kafka lists. */
export async function topicsOn(bootstrapServers: string[]): Promise<Set<string>> {
  const admin = kafkaClient(bootstrapServers).admin();
  await admin.connect();
  try {
    return new Set(await admin.listTopics());
  } finally {
    await admin.disconnect();
  }
}
