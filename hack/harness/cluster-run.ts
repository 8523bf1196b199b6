// Starts and stops a real local control plane: etcd, kube-apiserver and, on request, kube-controller-manager,
// kube-scheduler and kwok with one fake node. Each runs detached in its own process group with a pid file in
// the cluster's state directory, so `hack/cluster.ts down` (or Cluster.stop) can find and end all of them
// from another process, and nothing outlives a failed start.
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { join } from "node:path";
import { HarnessError } from "./cli.ts";
import { buildClusterBinaries, type ClusterBinaries, clusterBinaries } from "./cluster-build.ts";
import {
  apiserverArgs,
  apiserverUrl,
  type ClusterSettings,
  clusterFiles,
  clusterPorts,
  controllerManagerArgs,
  etcdArgs,
  fakeNodeManifest,
  fakeNodeName,
  kubernetesServiceIp,
  kwokArgs,
  renderKubeconfig,
  schedulerArgs,
} from "./cluster-config.ts";
import { ensurePki, type Pki } from "./cluster-pki.ts";
import { stateDir } from "./dirs.ts";
import { assertPortsFree } from "./ports.ts";
import { type Daemon, runningPid, startDaemon, stopDaemon } from "./processes.ts";
import { podNetwork, realNodeName } from "./real-node-config.ts";
import { prepareRealNodeNetwork, startRealNode, stopRealNode } from "./real-node-run.ts";
import { waitUntilReady } from "./wait.ts";

export const defaultPortBase = 6443;
const defaultReadyTimeoutMs = 90_000;

export interface StartClusterOptions {
  /** State directory name under the state root; tests use their own so they can run beside `cluster:up`. */
  name?: string;
  /** kube-apiserver's port; etcd and the rest use the next five (see clusterPorts). */
  portBase?: number;
  /** Also run kube-controller-manager (Deployments, ReplicaSets, HPA, garbage collection, service accounts). */
  controllerManager?: boolean;
  /** Also run kube-scheduler and kwok with one fake Ready node, so scheduled pods become Running. */
  kwok?: boolean;
  hpaSyncPeriodSeconds?: number;
  /** Bound on each component's readiness wait. */
  readyTimeoutMs?: number;
  /** Also run one real node (containerd, CoreDNS, kubelet, CNI, kube-proxy; root only) and no fake one. */
  realNode?: boolean;
  /** Build the binaries if they are missing instead of failing (the CLI does; tests expect them built). */
  build?: boolean;
  /** Once aborted, no further component is started (the caller is tearing the cluster down). */
  signal?: AbortSignal;
}

export interface Cluster {
  dir: string;
  kubeconfigPath: string;
  /** https://127.0.0.1:<port> */
  server: string;
  binaries: ClusterBinaries;
  /** Stops every process of this cluster and removes its state. */
  stop(): Promise<void>;
}

type Component = "etcd" | "kube-apiserver" | "kube-controller-manager" | "kube-scheduler" | "kwok";
/** Start order: each needs the ones before it. */
const startOrder: Component[] = [
  "etcd",
  "kube-apiserver",
  "kube-controller-manager",
  "kube-scheduler",
  "kwok",
];

function daemonOf(dir: string, component: Component): Daemon {
  return {
    name: component,
    pidFile: join(dir, `${component}.pid`),
    logFile: join(dir, "logs", `${component}.log`),
    // Every component's command line names a file in the state directory.
    mark: dir,
  };
}

/** Stops the apiserver's clients together (each takes a second or two), then the apiserver, then etcd. */
async function stopComponents(dir: string, components: Component[]): Promise<void> {
  const servers: Component[] = ["kube-apiserver", "etcd"];
  await Promise.all(components.filter((c) => !servers.includes(c)).map((c) => stopDaemon(daemonOf(dir, c))));
  for (const server of servers) if (components.includes(server)) await stopDaemon(daemonOf(dir, server));
}

/**
 * Stops every component of the cluster in `dir` (its real node first, while the apiserver still answers) and
 * removes its state; does nothing when none is there.
 */
export async function stopCluster(dir: string): Promise<void> {
  try {
    await stopRealNode(dir);
  } finally {
    // Whatever the node left behind is reported, but never keeps the control plane running.
    await stopComponents(dir, startOrder);
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface Tls {
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
}

export function adminTls(pki: Pki): Tls {
  return { ca: readFileSync(pki.caCert), cert: readFileSync(pki.adminCert), key: readFileSync(pki.adminKey) };
}

/** One HTTPS request to the apiserver as the admin; `tls: undefined` skips verification (self-signed health ports). */
export function httpsRequest(
  url: string,
  tls: Tls | undefined,
  method = "GET",
  body?: unknown,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = request(
      url,
      {
        method,
        timeout: 5_000,
        ...(tls ? { ca: tls.ca, cert: tls.cert, key: tls.key } : { rejectUnauthorized: false }),
        headers: payload ? { "content-type": "application/json" } : {},
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          text += chunk;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on("timeout", () => req.destroy(new Error(`${method} ${url} timed out`)));
    req.on("error", reject);
    req.end(payload);
  });
}

/**
 * With a real node, every pod runs for real: kwok's fake node, which the scheduler would fill as readily, is left
 * out, and the scheduler places pods on the real one.
 */
function wanted(options: StartClusterOptions): Component[] {
  const realNode = options.realNode === true;
  const fakeNode = options.kwok === true && !realNode;
  return startOrder.filter(
    (component) =>
      component === "etcd" ||
      component === "kube-apiserver" ||
      (component === "kube-controller-manager" && options.controllerManager === true) ||
      (component === "kube-scheduler" && (fakeNode || realNode)) ||
      (component === "kwok" && fakeNode),
  );
}

const portSettings: Record<Component, { port: (base: number) => number[]; purpose: string }> = {
  etcd: { port: (b) => [clusterPorts(b).etcdClient, clusterPorts(b).etcdPeer], purpose: "etcd" },
  "kube-apiserver": { port: (b) => [clusterPorts(b).apiserver], purpose: "kube-apiserver" },
  "kube-controller-manager": {
    port: (b) => [clusterPorts(b).controllerManager],
    purpose: "kube-controller-manager",
  },
  "kube-scheduler": { port: (b) => [clusterPorts(b).scheduler], purpose: "kube-scheduler" },
  kwok: { port: (b) => [clusterPorts(b).kwok], purpose: "kwok" },
};

/**
 * Starts the cluster named `options.name` (default "cluster"), or finds it already running: a second call
 * starts only what is missing, so `up` is idempotent. Resolves once the apiserver is ready and the default
 * namespace exists (and, with the extras, once they are healthy and the fake node is Ready).
 */
export async function startCluster(options: StartClusterOptions = {}): Promise<Cluster> {
  const dir = stateDir(options.name ?? "cluster");
  const settings: ClusterSettings = {
    dir,
    portBase: options.portBase ?? defaultPortBase,
    hpaSyncPeriodSeconds: options.hpaSyncPeriodSeconds ?? 15,
    apiserverAddress: options.realNode ? podNetwork.gateway : "127.0.0.1",
  };
  const timeoutMs = options.readyTimeoutMs ?? defaultReadyTimeoutMs;
  const binaries = options.build ? buildClusterBinaries() : clusterBinaries();
  const files = clusterFiles(dir);
  const pki = ensurePki(files.pki, [kubernetesServiceIp, podNetwork.gateway]);
  const server = apiserverUrl(settings);

  // Restarting the apiserver under a live etcd (or the reverse) is fine, but clients started against the
  // old pair are not worth reasoning about: if either core process is gone, everything starts anew.
  const components = wanted(options);
  const core = (["etcd", "kube-apiserver"] as const).every((c) => runningPid(daemonOf(dir, c)) !== undefined);
  if (core) {
    const running = readFileSync(files.server, "utf8").trim();
    if (running !== server) {
      throw new HarnessError(
        `the cluster in ${dir} is already running with kube-apiserver at ${running}, not ${server}: stop it first (hack/cluster.ts down) to move it, or to add or remove the real node`,
      );
    }
  } else {
    await stopComponents(dir, startOrder);
    writeFileSync(files.server, `${server}\n`);
  }
  const admin = adminTls(pki);
  writeFileSync(files.kubeconfig, renderKubeconfig(server, admin.ca, admin.cert, admin.key), { mode: 0o600 });
  const missing = components.filter((c) => runningPid(daemonOf(dir, c)) === undefined);

  await assertPortsFree(
    missing.flatMap((component) =>
      portSettings[component].port(settings.portBase).map((port) => ({
        port,
        purpose: portSettings[component].purpose,
        setting: "KUBESENTIMENT_CLUSTER_PORT (the cluster uses it and the next five ports)",
      })),
    ),
  );

  const stop = () => stopCluster(dir);
  try {
    // The apiserver listens on the pod gateway: the bridge that carries it comes first.
    if (options.realNode) prepareRealNodeNetwork(dir);
    for (const component of missing) {
      options.signal?.throwIfAborted();
      await startComponent(component, settings, pki, binaries, timeoutMs);
    }
    await waitForApi(dir, server, pki, components, timeoutMs);
    if (options.realNode) {
      options.signal?.throwIfAborted();
      await startRealNode({
        clusterDir: dir,
        portBase: settings.portBase,
        pki,
        kubeconfig: files.kubeconfig,
        server,
        timeoutMs,
        isNodeReady: () => isNodeReady(settings, admin, realNodeName),
      });
    }
  } catch (error) {
    // Nothing may outlive a failed start; the logs stay for the error message and a later look.
    await stopRealNode(dir);
    await stopComponents(dir, startOrder);
    throw error;
  }
  return { dir, kubeconfigPath: files.kubeconfig, server, binaries, stop };
}

async function startComponent(
  component: Component,
  settings: ClusterSettings,
  pki: Pki,
  binaries: ClusterBinaries,
  timeoutMs: number,
): Promise<void> {
  const daemon = daemonOf(settings.dir, component);
  const ports = clusterPorts(settings.portBase);
  const tls = adminTls(pki);
  switch (component) {
    case "etcd":
      startDaemon(daemon, binaries.etcd, etcdArgs(settings));
      await waitUntilReady(
        [daemon],
        `http://127.0.0.1:${ports.etcdClient}/health reports healthy`,
        async () => (await fetch(`http://127.0.0.1:${ports.etcdClient}/health`)).ok,
        { timeoutMs },
      );
      return;
    case "kube-apiserver":
      startDaemon(daemon, binaries["kube-apiserver"], apiserverArgs(settings, pki));
      await waitUntilReady(
        [daemon],
        `${apiserverUrl(settings)}/readyz returns ok`,
        async () => (await httpsRequest(`${apiserverUrl(settings)}/readyz`, tls)).status === 200,
        { timeoutMs },
      );
      return;
    case "kube-controller-manager":
      startDaemon(daemon, binaries["kube-controller-manager"], controllerManagerArgs(settings, pki));
      await waitForHealthz(daemon, ports.controllerManager, timeoutMs);
      return;
    case "kube-scheduler":
      startDaemon(daemon, binaries["kube-scheduler"], schedulerArgs(settings));
      await waitForHealthz(daemon, ports.scheduler, timeoutMs);
      return;
    case "kwok":
      startDaemon(daemon, binaries.kwok, kwokArgs(settings));
      await createFakeNode(settings, tls);
      await waitUntilReady(
        [daemon],
        `node ${fakeNodeName} is Ready`,
        async () => isNodeReady(settings, tls, fakeNodeName),
        { timeoutMs },
      );
      return;
  }
}

// The controller manager and scheduler serve /healthz on a self-signed certificate they make themselves;
// on loopback, checking only that it answers "ok" is enough.
function waitForHealthz(daemon: Daemon, port: number, timeoutMs: number): Promise<void> {
  return waitUntilReady(
    [daemon],
    `https://127.0.0.1:${port}/healthz returns ok`,
    async () => (await httpsRequest(`https://127.0.0.1:${port}/healthz`, undefined)).status === 200,
    { timeoutMs },
  );
}

async function createFakeNode(settings: ClusterSettings, tls: Tls): Promise<void> {
  const { status, body } = await httpsRequest(
    `${apiserverUrl(settings)}/api/v1/nodes`,
    tls,
    "POST",
    fakeNodeManifest(),
  );
  if (status !== 201 && status !== 409) {
    throw new HarnessError(`creating the fake node ${fakeNodeName} failed with HTTP ${status}: ${body}`);
  }
}

async function isNodeReady(settings: ClusterSettings, tls: Tls, name: string): Promise<boolean> {
  const { status, body } = await httpsRequest(`${apiserverUrl(settings)}/api/v1/nodes/${name}`, tls);
  if (status !== 200) return false;
  const node = JSON.parse(body) as { status?: { conditions?: { type: string; status: string }[] } };
  return node.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;
}

/**
 * /readyz can pass a moment before the system namespaces exist, and pods cannot be created before the
 * controller manager has made the namespace's default service account: wait for what clients need.
 */
async function waitForApi(
  dir: string,
  server: string,
  pki: Pki,
  components: Component[],
  timeoutMs: number,
): Promise<void> {
  const tls = adminTls(pki);
  const paths = ["/api/v1/namespaces/default"];
  if (components.includes("kube-controller-manager"))
    paths.push("/api/v1/namespaces/default/serviceaccounts/default");
  for (const path of paths) {
    await waitUntilReady(
      [daemonOf(dir, "kube-apiserver")],
      `${path} exists`,
      async () => (await httpsRequest(`${server}${path}`, tls)).status === 200,
      { timeoutMs },
    );
  }
}
