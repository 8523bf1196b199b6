// Test plumbing for the operator on a real control plane and a real Kafka: the operator started in-process
// against the test cluster's kubeconfig, pipeline manifests, and reads through kubectl as a person would.
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { clusterBinaries } from "../../hack/harness/cluster-build.ts";
import { repoRoot } from "../../hack/harness/dirs.ts";
import { type OperatorConfig, parseOperatorConfig } from "../../operator/src/config.ts";
import { type RunningOperator, startOperator } from "../../operator/src/operator.ts";
import type { PipelineSpec, SentimentPipeline } from "../../operator/src/pipeline.ts";
import { createLogger } from "../../worker/src/logger.ts";
import { kubectl } from "./cluster.ts";

const execFileAsync = promisify(execFile);

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
    logger: createLogger(process.env.OPERATOR_TEST_LOG_LEVEL ?? "error", {
      service: "kubesentiment-operator",
      identity: config.identity,
    }),
  });
}

const crdFile = join(repoRoot, "crds", "sentimentpipelines.kubesentiment.io.yaml");

/** What every operator test needs in a fresh cluster: the CRD, Established, and the operator's namespace. */
export function prepareCluster(k: ReturnType<typeof kubectlFor>): void {
  k.run(["apply", "-f", crdFile]);
  k.run(["wait", "--for=condition=Established", "crd/sentimentpipelines.kubesentiment.io", "--timeout=30s"]);
  k.run(["create", "namespace", operatorNamespace]);
}

export function pipelineManifest(
  name: string,
  spec: PipelineSpec,
  annotations: Record<string, string> = {},
): string {
  return JSON.stringify({
    apiVersion: "kubesentiment.io/v1alpha1",
    kind: "SentimentPipeline",
    metadata: { name, namespace: "default", annotations },
    spec,
  });
}

/**
 * kubectl against one cluster, failing the test on a non-zero exit. `run` blocks this process while kubectl
 * runs, so the operator running in it is frozen too: anything that needs the operator to act or answer
 * (`delete` of a pipeline with a finalizer, `get --raw` of its metrics API) must use `runAsync`.
 */
export function kubectlFor(kubeconfig: string) {
  const run = (args: string[], input?: string): string => {
    const result = kubectl(kubeconfig, args, input);
    if (result.status !== 0) throw new Error(`kubectl ${args.join(" ")} failed: ${result.stderr}`);
    return result.stdout;
  };
  const getJson = <T>(args: string[]): T | undefined => {
    const result = kubectl(kubeconfig, ["get", ...args, "-o", "json"]);
    if (result.status !== 0) {
      if (result.stderr.includes("NotFound")) return undefined;
      throw new Error(`kubectl get ${args.join(" ")} failed: ${result.stderr}`);
    }
    return JSON.parse(result.stdout) as T;
  };
  const runAsync = async (args: string[]): Promise<string> => {
    try {
      const { stdout } = await execFileAsync(clusterBinaries().kubectl, args, {
        env: { ...process.env, KUBECONFIG: kubeconfig },
        timeout: 60_000,
      });
      return stdout;
    } catch (error) {
      throw new Error(
        `kubectl ${args.join(" ")} failed: ${(error as { stderr?: string }).stderr ?? String(error)}`,
      );
    }
  };
  return {
    run,
    runAsync,
    getJson,
    pipeline: (name: string) => getJson<SentimentPipeline>(["sentimentpipeline", name, "-n", "default"]),
    apply: (manifest: string) => run(["apply", "--server-side", "-f", "-"], manifest),
  };
}

export function conditionOf(pipeline: SentimentPipeline | undefined, type: string) {
  return pipeline?.status?.conditions?.find((condition) => condition.type === type);
}
