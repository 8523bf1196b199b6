// Starts and stops the real node beside the local control plane: containerd, CoreDNS, a kubelet and kube-proxy as
// detached daemons (see processes.ts), the CNI bridge, and the pause image the sandboxes run. Their state lives under the
// node's directory in the cluster's; what the kubelet, containerd and CNI leave outside it (mounts, cgroups,
// network namespaces, links, netfilter chains, directories under /var and /run, ip_forward) is recorded before
// the first start and put back by stopRealNode, which takes everything down in the reverse order.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { HarnessError } from "./cli.ts";
import { buildNodeBinaries, builtNodeBinaries, type NodeBinaries } from "./cluster-build.ts";
import { renderKubeconfig } from "./cluster-config.ts";
import { type Pki, signedLeaf } from "./cluster-pki.ts";
import { requireCommand, run, runCommand } from "./commands.ts";
import { buildCoredns } from "./coredns-build.ts";
import { ensurePauseImage, importBuiltImages } from "./image-build.ts";
import { type Daemon, processesMentioning, runningPid, startDaemon, stopDaemon } from "./processes.ts";
import {
  cniConfig,
  containerdConfig,
  corednsArgs,
  corefile,
  kubeletArgs,
  kubeletConfig,
  kubeProxyArgs,
  kubeProxyConfig,
  podNetwork,
  type RealNodeFiles,
  realNodeFiles,
  realNodeName,
  realNodePorts,
} from "./real-node-config.ts";
import {
  hostPathsTouched,
  leftovers,
  type MachineBefore,
  netfilterTables,
  readIpForward,
  removeKubeChains,
  removeKubepodsCgroups,
  removeNetworkNamespaces,
  unmountUnder,
} from "./real-node-machine.ts";
import { waitUntilReady } from "./wait.ts";

const setupHint = "run 'bash hack/setup.sh real-node' as root";

type NodeComponent = "containerd" | "coredns" | "kubelet" | "kube-proxy";

function nodeDaemon(files: RealNodeFiles, component: NodeComponent): Daemon {
  return {
    name: component,
    pidFile: join(files.dir, `${component}.pid`),
    logFile: join(files.dir, "logs", `${component}.log`),
    mark: files.dir,
  };
}

/** The real node's directory inside a cluster's state directory. */
export function realNodeDir(clusterDir: string): string {
  return join(clusterDir, "node");
}

export interface RealNodeOptions {
  clusterDir: string;
  portBase: number;
  pki: Pki;
  /** The admin kubeconfig kube-proxy uses. */
  kubeconfig: string;
  server: string;
  timeoutMs: number;
  isNodeReady: () => Promise<boolean>;
  log?: (line: string) => void;
}

/**
 * Claims the machine for the cluster in `clusterDir`'s node, records the machine as it was (once), and makes the
 * pod network's bridge with its gateway: before the apiserver, which listens there. Idempotent.
 */
export function prepareRealNodeNetwork(clusterDir: string): RealNodeFiles {
  if (process.getuid?.() !== 0) throw new HarnessError(`the real node runs containers as root: ${setupHint}`);
  const files = realNodeFiles(realNodeDir(clusterDir));
  claimMachine(files);
  mkdirSync(files.dir, { recursive: true });
  if (!existsSync(files.before)) writeFileSync(files.before, `${JSON.stringify(recordMachine(), null, 2)}\n`);
  ensureBridge();
  return files;
}

/** Starts (or finds running) the real node; resolves once the node is Ready and kube-proxy healthy. */
export async function startRealNode(options: RealNodeOptions): Promise<void> {
  const log = options.log ?? console.error;
  for (const tool of ["containerd", "runc", "ctr", "ip", "nft", "iptables"]) requireCommand(tool, setupHint);
  const binaries = { ...buildNodeBinaries(log), coredns: buildCoredns(log) };
  const files = prepareRealNodeNetwork(options.clusterDir);
  writeNodeFiles(files, options);
  const timeoutMs = options.timeoutMs;
  const containerd = nodeDaemon(files, "containerd");
  if (runningPid(containerd) === undefined) {
    startDaemon(containerd, requireCommand("containerd", setupHint), ["--config", files.containerdConfig]);
    await waitUntilReady(
      [containerd],
      `containerd answers on ${files.containerdSocket}`,
      async () =>
        runCommand("ctr", ["--address", files.containerdSocket, "version"], { timeoutMs: 5_000 }).status ===
        0,
      { timeoutMs },
    );
  }
  importBuiltImages(files.containerdSocket, log);
  const { dnsReady, proxyHealthz } = realNodePorts(options.portBase);
  // Before the kubelet: a pod's first lookup should find DNS there.
  await startNodeDaemon(files, "coredns", binaries, corednsArgs(files), {
    what: `CoreDNS's http://127.0.0.1:${dnsReady}/ready returns ok`,
    ready: async () => (await fetch(`http://127.0.0.1:${dnsReady}/ready`)).ok,
    timeoutMs,
  });
  await startNodeDaemon(files, "kubelet", binaries, kubeletArgs(files), {
    what: `node ${realNodeName} is Ready`,
    ready: options.isNodeReady,
    timeoutMs,
  });
  await startNodeDaemon(files, "kube-proxy", binaries, kubeProxyArgs(files), {
    what: `kube-proxy's http://127.0.0.1:${proxyHealthz}/healthz returns ok`,
    ready: async () => (await fetch(`http://127.0.0.1:${proxyHealthz}/healthz`)).ok,
    timeoutMs,
  });
}

async function startNodeDaemon(
  files: RealNodeFiles,
  component: Exclude<NodeComponent, "containerd">,
  binaries: NodeBinaries & { coredns: string },
  args: string[],
  wait: { what: string; ready: () => Promise<boolean>; timeoutMs: number },
): Promise<void> {
  const daemon = nodeDaemon(files, component);
  if (runningPid(daemon) === undefined) startDaemon(daemon, binaries[component], args);
  await waitUntilReady([daemon], wait.what, wait.ready, { timeoutMs: wait.timeoutMs });
}

function writeNodeFiles(files: RealNodeFiles, options: RealNodeOptions): void {
  for (const dir of [
    files.containerdRoot,
    files.containerdState,
    files.cniConfDir,
    files.cniIpamDir,
    files.kubeletRoot,
    files.runcRoot,
    join(files.dir, "pki"),
  ]) {
    mkdirSync(dir, { recursive: true });
  }
  const pauseImage = ensurePauseImage();
  writeFileSync(files.containerdConfig, containerdConfig(files, pauseImage));
  writeFileSync(join(files.cniConfDir, "10-kubesentiment.conflist"), cniConfig(files));
  writeFileSync(files.kubeletConfig, kubeletConfig(files, options.pki.caCert, options.portBase));
  writeFileSync(files.proxyConfig, kubeProxyConfig(options.kubeconfig, options.portBase));
  writeFileSync(files.corefile, corefile(options.kubeconfig, options.portBase));
  ensureKubeletCertificates(files, options.pki);
  writeFileSync(
    files.kubeletKubeconfig,
    renderKubeconfig(
      options.server,
      readFileSync(options.pki.caCert),
      readFileSync(files.kubeletCert),
      readFileSync(files.kubeletKey),
    ),
    { mode: 0o600 },
  );
}

/** The kubelet's client certificate (the Node authorizer's `system:node:<name>`) and its serving certificate. */
function ensureKubeletCertificates(files: RealNodeFiles, pki: Pki): void {
  if (
    [files.kubeletCert, files.kubeletKey, files.kubeletServingCert, files.kubeletServingKey].every(existsSync)
  )
    return;
  const openssl = requireCommand("openssl", "install OpenSSL 3; it makes the real node's certificates");
  const ca = { cert: pki.caCert, key: pki.caKey };
  signedLeaf(openssl, ca, {
    cert: files.kubeletCert,
    key: files.kubeletKey,
    subject: `/O=system:nodes/CN=system:node:${realNodeName}`,
    usage: "clientAuth",
  });
  signedLeaf(openssl, ca, {
    cert: files.kubeletServingCert,
    key: files.kubeletServingKey,
    subject: `/CN=${realNodeName}`,
    usage: "serverAuth",
    san: `DNS:${realNodeName},IP:${podNetwork.gateway}`,
  });
}

/**
 * The bridge with the gateway address, made before any pod so the gateway is there for the kubelet's node IP
 * and for servers (Kafka) that listen on it; the CNI bridge plugin adopts it.
 */
function ensureBridge(): void {
  const { bridge, gateway, prefixLength } = podNetwork;
  if (runCommand("ip", ["link", "show", bridge]).status !== 0)
    run("ip", ["link", "add", "name", bridge, "type", "bridge"]);
  const addresses = run("ip", ["-o", "-4", "addr", "show", "dev", bridge]);
  if (!addresses.includes(` ${gateway}/`))
    run("ip", ["addr", "add", `${gateway}/${prefixLength}`, "dev", bridge]);
  run("ip", ["link", "set", bridge, "up"]);
}

/**
 * One real node per machine: the bridge, the pod subnet, /var/lib/kubelet and the netfilter tables are the
 * machine's. The marker names the node directory that owns them; another cluster's node is refused.
 */
const ownerMarker = "/run/kubesentiment-real-node";

function claimMachine(files: RealNodeFiles): void {
  const owner = existsSync(ownerMarker) ? readFileSync(ownerMarker, "utf8").trim() : undefined;
  if (owner !== undefined && owner !== files.dir && existsSync(owner)) {
    throw new HarnessError(
      `another real node runs on this machine (${owner}): stop its cluster first (hack/cluster.ts down in that checkout, or its test's cluster)`,
    );
  }
  writeFileSync(ownerMarker, `${files.dir}\n`);
}

/** The pod gateway while a real node runs on this machine (servers there reach pods and this machine alike). */
export function runningRealNodeGateway(): string | undefined {
  if (!existsSync(ownerMarker)) return undefined;
  const owner = readFileSync(ownerMarker, "utf8").trim();
  return existsSync(owner) && runningPid(nodeDaemon(realNodeFiles(owner), "containerd")) !== undefined
    ? podNetwork.gateway
    : undefined;
}

function releaseMachine(files: RealNodeFiles): void {
  if (existsSync(ownerMarker) && readFileSync(ownerMarker, "utf8").trim() === files.dir) rmSync(ownerMarker);
}

function recordMachine(): MachineBefore {
  return {
    existingPaths: hostPathsTouched.filter((path) => existsSync(path)),
    ipForward: readIpForward(),
    netfilterTables: netfilterTables(),
  };
}

/**
 * Stops the real node of the cluster in `clusterDir` and puts the machine back as it was before its first
 * start; does nothing when it never ran. Containers are killed through containerd while it still runs, so no
 * shim outlives it.
 */
export async function stopRealNode(clusterDir: string): Promise<void> {
  const files = realNodeFiles(realNodeDir(clusterDir));
  if (!existsSync(files.dir)) return;
  const before: MachineBefore | undefined = existsSync(files.before)
    ? (JSON.parse(readFileSync(files.before, "utf8")) as MachineBefore)
    : undefined;
  await stopDaemon(nodeDaemon(files, "kubelet"));
  await stopDaemon(nodeDaemon(files, "kube-proxy"));
  await stopDaemon(nodeDaemon(files, "coredns"));
  if (runningPid(nodeDaemon(files, "containerd")) !== undefined) killAllTasks(files);
  await stopDaemon(nodeDaemon(files, "containerd"));
  await killShims(files);
  // kube-proxy's own clean-up removes the nftables tables (and any iptables rules) it programmed.
  const proxy = builtNodeBinaries()?.["kube-proxy"];
  if (proxy) runCommand(proxy, ["--cleanup"]);
  unmountUnder([files.dir, "/run/netns", "/var/lib/kubelet", "/run/containerd"]);
  removeNetworkNamespaces();
  await removeKubepodsCgroups();
  if (runCommand("ip", ["link", "show", podNetwork.bridge]).status === 0)
    run("ip", ["link", "del", podNetwork.bridge]);
  if (before) {
    removeKubeChains(before.netfilterTables);
    writeFileSync("/proc/sys/net/ipv4/ip_forward", `${before.ipForward}\n`);
    for (const path of hostPathsTouched)
      if (!before.existingPaths.includes(path)) rmSync(path, { recursive: true, force: true });
  }
  rmSync(files.dir, { recursive: true, force: true });
  releaseMachine(files);
  const left = before ? leftovers(files.dir, before) : [];
  if (left.length > 0) {
    throw new HarnessError(
      `the real node left these behind after down (remove them by hand):\n  ${left.join("\n  ")}`,
    );
  }
}

/** Kills every container of the node through containerd, so their shims exit and release their mounts. */
function killAllTasks(files: RealNodeFiles): void {
  const ctr = (args: string[]) =>
    runCommand("ctr", ["--address", files.containerdSocket, "--namespace", "k8s.io", ...args], {
      timeoutMs: 30_000,
    });
  const tasks = ctr(["tasks", "list", "--quiet"]).stdout.split("\n").filter(Boolean);
  for (const task of tasks) ctr(["tasks", "delete", "--force", task]);
}

/** Shims whose containerd is gone would keep their containers and mounts: they name the node's socket. */
async function killShims(files: RealNodeFiles): Promise<void> {
  for (const line of processesMentioning(files.containerdSocket)) {
    const pid = Number(line.split(":")[0]);
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
  const deadline = Date.now() + 10_000;
  while (processesMentioning(files.containerdSocket).length > 0 && Date.now() < deadline) await sleep(100);
}
