// The operator process, assembled: API clients from a kubeconfig (a file locally, the service account
// in-cluster), the probe and metrics server, the watches (in every replica, so a standby can serve the
// metrics API and take over at once), leader election, and the reconcile loops (pipelines, replays) that run
// only while this replica leads.
import { readFileSync } from "node:fs";
import {
  AppsV1Api,
  AuthorizationV1Api,
  AutoscalingV2Api,
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  KubernetesObjectApi,
} from "@kubernetes/client-node";
import type winston from "winston";
import { createLogger } from "../../common/src/logger.ts";
import { startHttpServer } from "../../common/src/probe-server.ts";
import { KafkaAclsPort } from "./acls-port.ts";
import type { OperatorConfig } from "./config.ts";
import { Controller } from "./controller/controller.ts";
import { Reconciler, type TopicsPort } from "./controller/reconcile.ts";
import { startWatches } from "./controller/watches.ts";
import { WorkQueue } from "./controller/work-queue.ts";
import { AdminPool } from "./kafka/admin-pool.ts";
import { EventRecorder } from "./kube/events.ts";
import { KeepAliveKubeConfig } from "./kube/kube-config.ts";
import { defaultElectionTimings, LeaderElector } from "./kube/leader-election.ts";
import { kubeLeaseApi } from "./kube/lease-api.ts";
import { podLister } from "./kube/pods.ts";
import { secretReader } from "./kube/secret-reader.ts";
import { createOperatorMetrics } from "./metrics.ts";
import { lagAnswerer } from "./metrics-api/lag-answer.ts";
import {
  authenticationConfigMap,
  type RequestHeaderConfig,
  requestHeaderConfig,
} from "./metrics-api/request-header.ts";
import { type MetricsApiServer, metricsGroup, startMetricsApi } from "./metrics-api/server.ts";
import { startRedrives } from "./redrive/redrives.ts";
import { KafkaReplayPort } from "./replay/kafka-port.ts";
import { ReplayReconciler } from "./replay/reconcile.ts";
import { replayHolds } from "./replay/replay.ts";
import { KafkaTopicsPort } from "./topics-port.ts";

export const leaseName = "kubesentiment-operator";
/** How often the request-header CA is re-read, so a rotated front-proxy CA is picked up without a restart. */
const requestHeaderRefreshMs = 60_000;
/** How often an active replay looks at its consumer group: a second is what waiting for a group costs. */
const replayPollIntervalMs = 1_000;

export interface StartOperatorOptions {
  config: OperatorConfig;
  /** A kubeconfig file; without it, KUBECONFIG, ~/.kube/config or the in-cluster service account. */
  kubeconfigPath?: string;
  /** Called when leadership is lost; the CLI exits so a fresh process campaigns again. */
  onLostLeadership?: () => void;
  logger?: winston.Logger;
}

export interface RunningOperator {
  httpPort: number;
  /** The metrics API's port, when it is served. */
  metricsApiPort: number | undefined;
  isLeader(): boolean;
  stop(): Promise<void>;
}

function loadKubeConfig(path: string | undefined): KubeConfig {
  const kubeConfig = new KeepAliveKubeConfig();
  if (path === undefined) kubeConfig.loadFromDefault();
  else kubeConfig.loadFromFile(path);
  return kubeConfig;
}

type Log = (level: "info" | "warn" | "error", message: string, fields?: Record<string, unknown>) => void;

async function serveMetricsApi(
  settings: NonNullable<OperatorConfig["metricsApi"]>,
  kubeConfig: KubeConfig,
  lag: ReturnType<typeof lagAnswerer>,
  log: Log,
): Promise<{ server: MetricsApiServer; stopRefresh: () => void }> {
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const authorization = kubeConfig.makeApiClient(AuthorizationV1Api);
  const readRequestHeader = async () =>
    requestHeaderConfig((await core.readNamespacedConfigMap(authenticationConfigMap)).data);
  let requestHeader: RequestHeaderConfig = await readRequestHeader();
  const server = await startMetricsApi({
    port: settings.port,
    cert: readFileSync(settings.certFile, "utf8"),
    key: readFileSync(settings.keyFile, "utf8"),
    requestHeader: () => requestHeader,
    authorize: async (user, namespace, metric) => {
      const review = await authorization.createSubjectAccessReview({
        body: {
          apiVersion: "authorization.k8s.io/v1",
          kind: "SubjectAccessReview",
          spec: {
            user: user.name,
            groups: user.groups,
            resourceAttributes: { group: metricsGroup, resource: metric, namespace, verb: "get" },
          },
        },
      });
      return review.status?.allowed === true;
    },
    lag,
    log: (message, fields) => log("warn", message, fields),
  });
  const refresh = setInterval(() => {
    readRequestHeader().then(
      (next) => {
        if (
          next.clientCa === requestHeader.clientCa &&
          next.allowedNames.join() === requestHeader.allowedNames.join()
        )
          return;
        requestHeader = next;
        server.reloadClientCa();
        log("info", "request-header client CA reloaded");
      },
      (error: unknown) =>
        log("warn", "re-reading the request-header configuration failed", { error: String(error) }),
    );
  }, requestHeaderRefreshMs);
  refresh.unref();
  log("info", "serving external.metrics.k8s.io", { port: server.port });
  return { server, stopRefresh: () => clearInterval(refresh) };
}

export async function startOperator(options: StartOperatorOptions): Promise<RunningOperator> {
  const { config } = options;
  const logger =
    options.logger ?? createLogger("kubesentiment-operator", config.logLevel, { identity: config.identity });
  const log: Log = (level, message, fields) => logger.log(level, message, fields);
  const kubeConfig = loadKubeConfig(options.kubeconfigPath);
  const customObjects = kubeConfig.makeApiClient(CustomObjectsApi);
  const apps = kubeConfig.makeApiClient(AppsV1Api);
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const metrics = createOperatorMetrics();
  // Filled by the watches in every replica, so a standby that takes over starts with every key.
  const queue = new WorkQueue({ baseDelayMs: 500, maxDelayMs: 300_000 });
  const replayQueue = new WorkQueue({ baseDelayMs: 500, maxDelayMs: 300_000 });
  const caches = await startWatches(
    { kubeConfig, customObjects, apps, core, autoscaling: kubeConfig.makeApiClient(AutoscalingV2Api) },
    config.watchNamespaces,
    config.kedaEnabled,
    { pipeline: (key) => queue.add(key), replay: (key) => replayQueue.add(key) },
    (message, fields) => log("warn", message, fields),
  );
  const controller = new Controller({
    kind: "pipeline",
    queue,
    objects: caches.pipelines.cache,
    concurrency: config.concurrency,
    metrics,
    log,
  });
  const replayController = new Controller({
    kind: "replay",
    queue: replayQueue,
    objects: caches.replays.cache,
    concurrency: config.concurrency,
    metrics,
    log,
  });
  const readSecret = secretReader(core);
  const redrives = await startRedrives({
    kubeConfig,
    customObjects,
    namespaces: config.watchNamespaces,
    pipelines: caches.pipelines.cache,
    readSecret,
    log,
  });
  const stopReconciling = async () => {
    await Promise.all([controller.stop(), replayController.stop(), redrives.stop()]);
    await caches.stop();
  };
  // Warnings, not errors: kafkajs logs every request it retries as an error, and what does fail for good
  // reaches the pipeline's condition (or the replay's Event) and the reconcile's own log line.
  // One connection per Kafka and credentials, for reconciles, replays and the metrics API alike.
  const admins = new AdminPool({
    onLog: (entry, kafka) =>
      log("warn", entry.message, { kafka, kafkajs: { level: entry.level, namespace: entry.namespace } }),
  });
  const topics: TopicsPort = new KafkaTopicsPort(readSecret, admins);
  const acls = new KafkaAclsPort(readSecret, admins);
  let leading = false;
  let stopping = false;
  const server = await startHttpServer(config.httpPort, metrics.registry, {
    live: () => true,
    ready: () => !stopping && caches.synced() && redrives.synced(),
  });
  const metricsApi =
    config.metricsApi === undefined
      ? undefined
      : await serveMetricsApi(
          config.metricsApi,
          kubeConfig,
          lagAnswerer(caches.pipelines.cache, (pipeline) => topics.lag(pipeline)),
          log,
        );

  const lead = () => {
    leading = true;
    // One recorder for both kinds: it aggregates repeats of an Event per object.
    const events = new EventRecorder(core, config.identity);
    metrics.leader.set(1);
    controller.startWorkers(
      new Reconciler({
        apps,
        pipelines: caches.pipelines.cache,
        deployments: caches.deployments.cache,
        hpas: caches.hpas.cache,
        pods: podLister(core),
        readSecret,
        objects: KubernetesObjectApi.makeApiClient(kubeConfig),
        ...(caches.keda === undefined
          ? {}
          : {
              keda: {
                scaledObjects: caches.keda.scaledObjects.cache,
                triggerAuthentications: caches.keda.triggerAuthentications.cache,
              },
            }),
        customObjects,
        events,
        topics,
        acls,
        defaultWorkerImage: config.defaultWorkerImage,
        resyncPeriodMs: config.resyncPeriodMs,
        observeLag: (namespace, pipeline, lag) =>
          metrics.pipelineLag.set({ pipeline_namespace: namespace, pipeline }, lag),
        forgetLag: (namespace, pipeline) =>
          metrics.pipelineLag.remove({ pipeline_namespace: namespace, pipeline }),
        pauseHolds: (namespace, pipeline) =>
          replayHolds(caches.replays.cache.list(namespace), namespace, pipeline),
        log: (message, fields) => log("warn", message, fields),
      }),
    );
    replayController.startWorkers(
      new ReplayReconciler({
        replays: caches.replays.cache,
        pipelines: caches.pipelines.cache,
        customObjects,
        events,
        kafka: new KafkaReplayPort(readSecret, admins),
        pollIntervalMs: replayPollIntervalMs,
        resyncPeriodMs: config.resyncPeriodMs,
        log: (message, fields) => log("warn", message, fields),
      }),
    );
    redrives.lead();
    log("info", "reconciling SentimentPipelines, SentimentReplays and SentimentRedrives");
  };

  const elector = config.leaderElection
    ? new LeaderElector({
        lease: kubeLeaseApi(kubeConfig.makeApiClient(CoordinationV1Api), config.namespace, leaseName),
        name: leaseName,
        identity: config.identity,
        ...defaultElectionTimings,
        onStartedLeading: lead,
        onStoppedLeading: () => {
          leading = false;
          metrics.leader.set(0);
          void stopReconciling();
          options.onLostLeadership?.();
        },
        log: (message, fields) => log("info", message, fields),
      })
    : undefined;
  const campaign = elector?.run();
  if (elector === undefined) lead();

  const address = server.address();
  return {
    httpPort: typeof address === "object" && address !== null ? address.port : config.httpPort,
    metricsApiPort: metricsApi?.server.port,
    isLeader: () => leading,
    stop: async () => {
      stopping = true;
      metricsApi?.stopRefresh();
      await stopReconciling();
      await elector?.stop();
      await campaign;
      await metricsApi?.server.close();
      await admins.close();
      await new Promise((resolve) => server.close(resolve));
      log("info", "operator stopped");
    },
  };
}
