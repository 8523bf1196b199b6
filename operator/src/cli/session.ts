// The plugin's way into the user's cluster and a pipeline's Kafka: the user's kubeconfig (--kubeconfig, else
// KUBECONFIG, else ~/.kube/config; kubectl passes its environment on to a plugin but not its flags, so the
// plugin reads those itself), the context and namespace as kubectl would choose them, and the pipeline's own
// Kafka settings and Secrets, read with the user's rights.
import { CoreV1Api, CustomObjectsApi, KubeConfig } from "@kubernetes/client-node";
import type { KafkaConnection } from "../kafka/client.ts";
import { pipelineConnection } from "../kafka/pipeline-connection.ts";
import { hasApiStatus } from "../kube/api-status.ts";
import { secretReader } from "../kube/secret-reader.ts";
import {
  group,
  plural,
  type ResolvedPipeline,
  resolvePipeline,
  type SentimentPipeline,
  version,
} from "../pipeline.ts";
import type { Target } from "./args.ts";
import { CliError, UsageError } from "./errors.ts";

export class Session {
  readonly namespace: string;
  readonly customObjects: CustomObjectsApi;
  readonly core: CoreV1Api;
  readonly contexts: string[];

  constructor(target: Target) {
    const kubeConfig = loadKubeConfig(target);
    this.contexts = kubeConfig.getContexts().map(({ name }) => name);
    this.namespace =
      target.namespace ?? kubeConfig.getContextObject(kubeConfig.currentContext)?.namespace ?? "default";
    this.customObjects = kubeConfig.makeApiClient(CustomObjectsApi);
    this.core = kubeConfig.makeApiClient(CoreV1Api);
  }

  /** The pipeline NAME in the session's namespace; a CliError saying so when it does not exist. */
  async pipeline(name: string): Promise<SentimentPipeline> {
    try {
      return (await this.customObjects.getNamespacedCustomObject({
        group,
        version,
        plural,
        namespace: this.namespace,
        name,
      })) as SentimentPipeline;
    } catch (error) {
      if (hasApiStatus(error, 404)) {
        throw new CliError(
          `SentimentPipeline "${name}" not found in namespace "${this.namespace}" ` +
            `(kubectl get sentimentpipelines -n ${this.namespace} lists them)`,
        );
      }
      throw error;
    }
  }

  /** The names of the pipelines in `namespace` (default: the session's). */
  async pipelineNames(namespace = this.namespace): Promise<string[]> {
    const list = (await this.customObjects.listNamespacedCustomObject({
      group,
      version,
      plural,
      namespace,
    })) as {
      items: SentimentPipeline[];
    };
    return list.items.flatMap(({ metadata }) => (metadata.name === undefined ? [] : [metadata.name]));
  }

  async namespaceNames(): Promise<string[]> {
    const list = await this.core.listNamespace();
    return list.items.flatMap(({ metadata }) => (metadata?.name === undefined ? [] : [metadata.name]));
  }

  /** The pipeline resolved, and how to reach its Kafka with its own Secrets. */
  async kafkaOf(
    pipeline: SentimentPipeline,
  ): Promise<{ resolved: ResolvedPipeline; connection: KafkaConnection }> {
    const resolved = resolvePipeline(pipeline);
    return { resolved, connection: await pipelineConnection(resolved, secretReader(this.core)) };
  }
}

function loadKubeConfig(target: Target): KubeConfig {
  const kubeConfig = new KubeConfig();
  if (target.kubeconfig === undefined) kubeConfig.loadFromDefault();
  else {
    try {
      kubeConfig.loadFromFile(target.kubeconfig);
    } catch (error) {
      throw new UsageError(`--kubeconfig "${target.kubeconfig}" cannot be read: ${(error as Error).message}`);
    }
  }
  if (target.context !== undefined) {
    if (kubeConfig.getContextObject(target.context) === null) {
      const known = kubeConfig.getContexts().map(({ name }) => name);
      throw new UsageError(
        `--context "${target.context}" is not in the kubeconfig (its contexts: ${known.join(", ") || "none"})`,
      );
    }
    kubeConfig.setCurrentContext(target.context);
  }
  if (kubeConfig.getCurrentCluster() === null) {
    throw new CliError(
      "no cluster to talk to: the kubeconfig has no current context (use --context or --kubeconfig)",
    );
  }
  return kubeConfig;
}
