// KEDA's operator and metrics server run as processes on this machine against a test cluster, as KEDA's own
// manifests run them in pods: its CRDs installed from the module KEDA is built from, one CA and certificate for
// the gRPC link between the two (mutual TLS) and for the metrics server's HTTPS, and the metrics server registered
// as the cluster's external.metrics.k8s.io APIService. The processes are daemons under the cluster's state, so a
// crashed test leaves nothing that the next start does not stop first.
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { HarnessError } from "./cli.ts";
import { stateDir } from "./dirs.ts";
import { kedaBinaries, kedaCrdDir } from "./keda-build.ts";
import type { Kubectl } from "./kubectl.ts";
import { makeMetricsApiCertificates, registerLocalMetricsApi } from "./local-metrics-api.ts";
import { freePortBase } from "./ports.ts";
import { type Daemon, startDaemon, stopDaemon } from "./processes.ts";
import { waitUntilReady } from "./wait.ts";

/** KEDA's own namespace, where its manifests install it. */
export const kedaNamespace = "keda";
const metricsServerService = "keda-metrics-apiserver";

export interface RunningKeda {
  operatorLog: string;
  adapterLog: string;
  stop(): Promise<void>;
}

/** Installs KEDA's CRDs (server-side: they are larger than client-side apply's annotation allows). */
function installCrds(kubectl: Kubectl): void {
  const dir = kedaCrdDir();
  const files = readdirSync(dir).filter((name) => name.endsWith(".yaml"));
  if (files.length === 0) throw new HarnessError(`no KEDA CRDs in ${dir}`);
  for (const file of files) kubectl.run(["apply", "--server-side", "-f", join(dir, file)]);
  kubectl.run(["wait", "--for=condition=Established", "crd/scaledobjects.keda.sh", "--timeout=30s"]);
}

/** Starts KEDA against the cluster of `kubeconfigPath`, its state under `name`; resolves once the metrics API is Available. */
export async function startKeda(
  name: string,
  kubeconfigPath: string,
  kubectl: Kubectl,
  timeoutMs = 120_000,
): Promise<RunningKeda> {
  const binaries = kedaBinaries();
  const dir = stateDir(name);
  const daemon = (component: string): Daemon => ({
    name: component,
    pidFile: join(dir, `${component}.pid`),
    logFile: join(dir, `${component}.log`),
    mark: dir,
  });
  const operator = daemon("keda-operator");
  const adapter = daemon("keda-adapter");
  const stopDaemons = async () => {
    await Promise.all([stopDaemon(adapter), stopDaemon(operator)]);
  };
  await stopDaemons();

  installCrds(kubectl);
  kubectl.apply(JSON.stringify({ apiVersion: "v1", kind: "Namespace", metadata: { name: kedaNamespace } }));
  // One certificate for both roles: the operator serves gRPC to the metrics server, which dials it with it.
  // Under the state directory, so each daemon's command line names it (the mark that tells it is ours).
  const tls = makeMetricsApiCertificates(kedaNamespace, {
    service: metricsServerService,
    usage: "serverAuth,clientAuth",
    dir: join(dir, "certs"),
  });
  const stop = async () => {
    await stopDaemons();
    tls.remove();
  };
  const base = await freePortBase(5);
  const metricsPort = base;
  const probePort = base + 1;
  const grpcPort = base + 2;
  const securePort = base + 3;
  const adapterMetricsPort = base + 4;
  const env = {
    ...process.env,
    KUBECONFIG: kubeconfigPath,
    POD_NAMESPACE: kedaNamespace,
    KEDA_CLUSTER_OBJECT_NAMESPACE: kedaNamespace,
    WATCH_NAMESPACE: "",
  };
  try {
    startDaemon(
      operator,
      binaries["keda-operator"],
      [
        `--metrics-bind-address=127.0.0.1:${metricsPort}`,
        `--health-probe-bind-address=127.0.0.1:${probePort}`,
        `--metrics-service-bind-address=127.0.0.1:${grpcPort}`,
        `--cert-dir=${tls.dir}`,
        `--ca-dir=${tls.dir}`,
        "--zap-log-level=info",
      ],
      { env },
    );
    startDaemon(
      adapter,
      binaries["keda-adapter"],
      [
        `--secure-port=${securePort}`,
        `--port=${adapterMetricsPort}`,
        `--cert-dir=${tls.dir}`,
        `--tls-cert-file=${tls.cert}`,
        `--tls-private-key-file=${tls.key}`,
        `--client-ca-file=${tls.caCert}`,
        `--lister-kubeconfig=${kubeconfigPath}`,
        `--authentication-kubeconfig=${kubeconfigPath}`,
        `--authorization-kubeconfig=${kubeconfigPath}`,
        `--metrics-service-address=127.0.0.1:${grpcPort}`,
        "--zap-log-level=info",
      ],
      { env },
    );
    await waitUntilReady(
      [operator],
      "the KEDA operator's /readyz",
      async () => (await fetch(`http://127.0.0.1:${probePort}/readyz`)).ok,
      { timeoutMs },
    );
    await registerLocalMetricsApi(kubectl, kedaNamespace, securePort, tls.caCert, metricsServerService);
  } catch (error) {
    await stop();
    throw error;
  }
  return { operatorLog: operator.logFile, adapterLog: adapter.logFile, stop };
}
