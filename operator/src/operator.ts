// The operator process, assembled: API clients from a kubeconfig (a file locally, the service account
// in-cluster), the probe and metrics server, leader election, and the controller that runs only while
// this replica leads.
import {
  AppsV1Api,
  AutoscalingV2Api,
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  KubernetesObjectApi,
} from "@kubernetes/client-node";
import type winston from "winston";
import { startHttpServer } from "../../worker/src/http-server.ts";
import { createLogger } from "../../worker/src/logger.ts";
import type { OperatorConfig } from "./config.ts";
import { Controller } from "./controller/controller.ts";
import { Reconciler, type TopicsPort } from "./controller/reconcile.ts";
import { EventRecorder } from "./kube/events.ts";
import { LeaderElector } from "./kube/leader-election.ts";
import { createOperatorMetrics } from "./metrics.ts";
import { KafkaTopicsPort } from "./topics-port.ts";

export const leaseName = "kubesentiment-operator";

export interface StartOperatorOptions {
  config: OperatorConfig;
  /** A kubeconfig file; without it, KUBECONFIG, ~/.kube/config or the in-cluster service account. */
  kubeconfigPath?: string;
  /** Replaces the Kafka side (tests of the Kubernetes side alone). */
  topics?: TopicsPort;
  /** Called when leadership is lost; the CLI exits so a fresh process campaigns again. */
  onLostLeadership?: () => void;
  logger?: winston.Logger;
}

export interface RunningOperator {
  httpPort: number;
  isLeader(): boolean;
  stop(): Promise<void>;
}

export function loadKubeConfig(path: string | undefined): KubeConfig {
  const kubeConfig = new KubeConfig();
  if (path === undefined) kubeConfig.loadFromDefault();
  else kubeConfig.loadFromFile(path);
  return kubeConfig;
}

export async function startOperator(options: StartOperatorOptions): Promise<RunningOperator> {
  const { config } = options;
  const logger =
    options.logger ??
    createLogger(config.logLevel, { service: "kubesentiment-operator", identity: config.identity });
  const log = (level: "info" | "warn" | "error", message: string, fields?: Record<string, unknown>) =>
    logger.log(level, message, fields);
  const kubeConfig = loadKubeConfig(options.kubeconfigPath);
  const customObjects = kubeConfig.makeApiClient(CustomObjectsApi);
  const metrics = createOperatorMetrics();
  const controller = new Controller({
    kubeConfig,
    customObjects,
    apps: kubeConfig.makeApiClient(AppsV1Api),
    autoscaling: kubeConfig.makeApiClient(AutoscalingV2Api),
    concurrency: config.concurrency,
    metrics,
    log,
  });
  const topics = options.topics ?? new KafkaTopicsPort();
  let leading = false;
  let stopping = false;
  const server = await startHttpServer(config.httpPort, metrics.registry, {
    live: () => true,
    // A standby is ready (it serves probes and metrics); a leader once its caches hold the cluster's state.
    ready: () => !stopping && (!leading || controller.synced()),
  });

  const lead = async () => {
    leading = true;
    metrics.leader.set(1);
    const caches = await controller.startWatches();
    const reconciler = new Reconciler({
      pipelines: caches.pipelines.cache,
      deployments: caches.deployments.cache,
      hpas: caches.hpas.cache,
      objects: KubernetesObjectApi.makeApiClient(kubeConfig),
      customObjects,
      events: new EventRecorder(kubeConfig.makeApiClient(CoreV1Api), config.identity),
      topics,
      defaultWorkerImage: config.defaultWorkerImage,
      resyncPeriodMs: config.resyncPeriodMs,
      log: (message, fields) => log("warn", message, fields),
    });
    controller.startWorkers(reconciler);
    log("info", "reconciling SentimentPipelines");
  };

  const elector = config.leaderElection
    ? new LeaderElector({
        api: kubeConfig.makeApiClient(CoordinationV1Api),
        namespace: config.namespace,
        name: leaseName,
        identity: config.identity,
        leaseDurationSeconds: 15,
        renewDeadlineMs: 10_000,
        retryPeriodMs: 2_000,
        onStartedLeading: () => void lead(),
        onStoppedLeading: () => {
          leading = false;
          metrics.leader.set(0);
          void controller.stop();
          options.onLostLeadership?.();
        },
        log: (message, fields) => log("info", message, fields),
      })
    : undefined;
  const campaign = elector?.run();
  if (elector === undefined) await lead();

  const address = server.address();
  return {
    httpPort: typeof address === "object" && address !== null ? address.port : config.httpPort,
    isLeader: () => leading,
    stop: async () => {
      stopping = true;
      await controller.stop();
      await elector?.stop();
      await campaign;
      await new Promise((resolve) => server.close(resolve));
      log("info", "operator stopped");
    },
  };
}
