// What a real node leaves on the machine outside its own directory, and how to remove it: mounts, kubepods
// cgroups, network namespaces, netfilter tables and chains, ip_forward, and directories the kubelet, containerd
// and CNI make under /var and /run whatever they are told. `up` records the machine first (MachineBefore); `down`
// removes only what was not there before, then lists whatever is still left so it can say so.
import { existsSync, readdirSync, readFileSync, realpathSync, rmdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { run, runCommand } from "./commands.ts";
import { processesMentioning } from "./processes.ts";
import { podNetwork } from "./real-node-config.ts";

/**
 * Directories made outside the node's own whatever its configuration says: CNI's result cache, the kubelet's
 * fixed pki and device-plugin paths, the container log links, network namespaces, containerd's shim sockets.
 */
export const hostPathsTouched = [
  "/var/lib/cni",
  "/var/lib/kubelet",
  "/var/log/containers",
  "/var/log/pods",
  "/run/netns",
  "/run/containerd",
];

/** The netfilter tables the kubelet (through iptables-nft) and kube-proxy (nftables mode) create. */
const nodeTables = ["filter", "nat", "mangle", "kube-proxy"].flatMap((name) => [`ip ${name}`, `ip6 ${name}`]);

export interface MachineBefore {
  existingPaths: string[];
  ipForward: number;
  /** `nft list tables` as "family name". */
  netfilterTables: string[];
}

export function readIpForward(): number {
  return Number(readFileSync("/proc/sys/net/ipv4/ip_forward", "utf8").trim());
}

export function netfilterTables(): string[] {
  return run("nft", ["list", "tables"])
    .split("\n")
    .map((line) => line.trim().replace(/^table /, ""))
    .filter(Boolean);
}

/** Mount points at or under `prefixes`, deepest (and latest) first, as /proc/self/mountinfo has them. */
export function mountsUnder(prefixes: string[]): string[] {
  const points = readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .map((line) => line.split(" ")[4])
    .filter((point): point is string => point !== undefined)
    .map((point) =>
      point.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8))),
    );
  return points
    .filter((point) => prefixes.some((prefix) => point === prefix || point.startsWith(`${prefix}/`)))
    .reverse()
    .sort((a, b) => b.length - a.length);
}

/** Unmounts everything at or under `prefixes` (stacked mounts too), lazily when a plain unmount is refused. */
export function unmountUnder(prefixes: string[]): void {
  for (let round = 0; round < 10; round++) {
    const points = mountsUnder(prefixes);
    if (points.length === 0) return;
    for (const point of points) {
      if (runCommand("umount", [point]).status !== 0) runCommand("umount", ["--lazy", point]);
    }
  }
}

/** The network namespaces the CRI made for sandboxes (`cni-…`), once unmounted. */
export function removeNetworkNamespaces(): void {
  if (!existsSync("/run/netns")) return;
  for (const name of readdirSync("/run/netns"))
    if (name.startsWith("cni-")) rmSync(join("/run/netns", name), { force: true });
}

/** The kubelet's `kubepods` cgroup in every cgroup v1 hierarchy (or the unified one). */
export function kubepodsCgroups(): string[] {
  const root = "/sys/fs/cgroup";
  const candidates = [
    join(root, "kubepods"),
    ...readdirSync(root).map((hierarchy) => join(root, hierarchy, "kubepods")),
  ];
  const seen = new Set<string>();
  return candidates.filter((path) => {
    if (!existsSync(path)) return false;
    const real = realpathSync(path);
    if (seen.has(real)) return false;
    seen.add(real);
    return true;
  });
}

/** Removes each kubepods tree, children first; a cgroup still emptying is retried for a few seconds. */
export async function removeKubepodsCgroups(): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    for (const tree of kubepodsCgroups()) removeCgroupTree(tree);
    if (kubepodsCgroups().length === 0 || Date.now() > deadline) return;
    await sleep(200);
  }
}

function removeCgroupTree(path: string): void {
  for (const entry of readdirSync(path, { withFileTypes: true })) {
    if (entry.isDirectory()) removeCgroupTree(join(path, entry.name));
  }
  try {
    rmdirSync(path);
  } catch {
    // still has a process; the caller retries
  }
}

/**
 * Removes the netfilter state the kubelet and kube-proxy added: their tables when they did not exist before,
 * else only the KUBE-* chains and the rules that jump to them.
 */
export function removeKubeChains(tablesBefore: string[]): void {
  for (const table of netfilterTables().filter((t) => nodeTables.includes(t))) {
    if (!tablesBefore.includes(table)) {
      run("nft", ["delete", "table", ...table.split(" ")]);
      continue;
    }
    const [family = "", name = ""] = table.split(" ");
    let chain = "";
    const kubeChains: string[] = [];
    for (const line of run("nft", ["--handle", "list", "table", family, name]).split("\n")) {
      const chainMatch = /^\s*chain (\S+) \{/.exec(line);
      if (chainMatch?.[1]) {
        chain = chainMatch[1];
        if (chain.startsWith("KUBE-")) kubeChains.push(chain);
        continue;
      }
      const handle = /(?:jump|goto) KUBE-\S+.*# handle (\d+)$/.exec(line)?.[1];
      if (handle && !chain.startsWith("KUBE-"))
        run("nft", ["delete", "rule", family, name, chain, "handle", handle]);
    }
    for (const kubeChain of kubeChains) run("nft", ["flush", "chain", family, name, kubeChain]);
    for (const kubeChain of kubeChains) run("nft", ["delete", "chain", family, name, kubeChain]);
  }
}

/** What of the real node is still on the machine, one line each; empty when `down` left it as it was. */
export function leftovers(nodeDir: string, before: MachineBefore): string[] {
  const found: string[] = [];
  found.push(...processesMentioning(nodeDir).map((process) => `process ${process}`));
  found.push(
    ...mountsUnder([nodeDir, "/run/netns", "/var/lib/kubelet", "/run/containerd"]).map((m) => `mount ${m}`),
  );
  found.push(...kubepodsCgroups().map((cgroup) => `cgroup ${cgroup}`));
  if (runCommand("ip", ["link", "show", podNetwork.bridge]).status === 0)
    found.push(`link ${podNetwork.bridge}`);
  const tables = netfilterTables().filter(
    (t) => nodeTables.includes(t) && !before.netfilterTables.includes(t),
  );
  found.push(...tables.map((table) => `netfilter table ${table}`));
  for (const table of netfilterTables().filter(
    (t) => nodeTables.includes(t) && before.netfilterTables.includes(t),
  )) {
    const [family = "", name = ""] = table.split(" ");
    if (run("nft", ["list", "table", family, name]).includes("KUBE-"))
      found.push(`KUBE-* chains in ${table}`);
  }
  if (readIpForward() !== before.ipForward)
    found.push(`ip_forward ${readIpForward()} (was ${before.ipForward})`);
  found.push(
    ...hostPathsTouched
      .filter((path) => !before.existingPaths.includes(path) && existsSync(path))
      .map((p) => `path ${p}`),
  );
  return found;
}
