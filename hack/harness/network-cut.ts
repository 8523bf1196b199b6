// Network partitions of local Kafka nodes, for fault tests: nftables rules that DROP (not reject: a partition
// answers nothing) loopback traffic to and from a node's ports and, for a whole-node cut, everything the node's
// own sockets send (its connections to the other nodes), told apart by the cgroup the node was started in. Each
// cluster's rules live in one table named after the cluster, so rules a crashed run left behind are removed with
// the cluster (stopKafka) or by the next cut.
import { accessSync, constants, mkdirSync, readdirSync, readFileSync, rmdirSync } from "node:fs";
import { join, relative } from "node:path";
import { HarnessError } from "./cli.ts";
import { requireCommand, runCommandAsync } from "./commands.ts";

const nftHint = "install nftables (hack/setup.sh test-tools does, as root: apt-get install nftables)";
/** Where nft looks up the cgroup paths its rules name. */
const nftCgroupRoot = "/sys/fs/cgroup";

const sanitized = (name: string) => name.replace(/[^A-Za-z0-9_]/g, "_");

/** The nftables table (family inet) holding a cluster's cut; nft names allow letters, digits and underscores. */
export function cutTableName(clusterName: string): string {
  return `kubesentiment_cut_${sanitized(clusterName)}`;
}

/** The cgroup (directly under the cgroup v2 root) a node of a cluster runs in, so a cut can tell its traffic. */
export function nodeCgroupName(clusterName: string, nodeId: number): string {
  return `${nodeCgroupPrefix(clusterName)}${nodeId}`;
}

const nodeCgroupPrefix = (clusterName: string) => `kubesentiment_${sanitized(clusterName)}_node`;

/**
 * The nft script that replaces `table`'s rules with a drop of every TCP segment to or from `ports` as it arrives
 * on loopback (both directions of every connection to them, existing ones included) and, given `cgroup` (a path
 * under /sys/fs/cgroup), of everything sockets of that cgroup send.
 */
export function cutScript(table: string, ports: readonly number[], cgroup?: string): string {
  if (ports.length === 0) throw new HarnessError("a network cut needs at least one port");
  const set = `{ ${ports.join(", ")} }`;
  return [
    // Declaring the table first makes the delete succeed whether or not an earlier cut left it.
    `table inet ${table}`,
    `delete table inet ${table}`,
    `table inet ${table} {`,
    "  chain input {",
    "    type filter hook input priority filter; policy accept;",
    `    iifname "lo" tcp dport ${set} drop`,
    `    iifname "lo" tcp sport ${set} drop`,
    "  }",
    ...(cgroup === undefined
      ? []
      : [
          "  chain output {",
          "    type filter hook output priority filter; policy accept;",
          `    socket cgroupv2 level 1 "${cgroup}" drop`,
          "  }",
        ]),
    "}",
    "",
  ].join("\n");
}

/**
 * Drops all loopback traffic to and from `ports` until removeCut(table), and with `cgroup` (nodeCgroupName) all
 * that processes started in it send; replaces the table's earlier cut.
 */
export async function cutPorts(table: string, ports: readonly number[], cgroup?: string): Promise<void> {
  let cgroupPath: string | undefined;
  if (cgroup !== undefined) {
    const root = cgroup2Root();
    const path = root === undefined ? "" : relative(nftCgroupRoot, join(root, cgroup));
    if (root === undefined || path.startsWith("..") || !readdirSync(root).includes(cgroup)) {
      throw new HarnessError(
        `cutting a whole node needs it started in cgroup ${cgroup} of a writable cgroup v2 hierarchy under ${nftCgroupRoot}`,
      );
    }
    cgroupPath = path;
  }
  await nft(cutScript(table, ports, cgroupPath));
}

/** Removes the table's cut, if any; does nothing where nftables is not installed (no cut can exist there). */
export async function removeCut(table: string): Promise<void> {
  try {
    requireCommand("nft", nftHint);
  } catch {
    return;
  }
  await nft(`table inet ${table}\ndelete table inet ${table}\n`);
}

/**
 * `command args` made to start inside a new cgroup `cgroup` (nodeCgroupName), so a cut can drop what it sends;
 * unchanged where this process cannot make one (no writable cgroup v2 hierarchy).
 */
export function inCgroup(
  cgroup: string,
  command: string,
  args: string[],
): { command: string; args: string[] } {
  const root = cgroup2Root();
  if (root === undefined) return { command, args };
  const dir = join(root, cgroup);
  try {
    mkdirSync(dir, { recursive: true });
  } catch {
    return { command, args };
  }
  // The shell joins the cgroup, then becomes the command: same pid, and every socket it opens is the cgroup's.
  return {
    command: "/bin/sh",
    args: ["-c", 'echo $$ > "$0" && exec "$@"', join(dir, "cgroup.procs"), command, ...args],
  };
}

/** Removes the (empty, once its nodes are stopped) cgroups of a cluster's nodes. */
export function removeNodeCgroups(clusterName: string): void {
  const root = cgroup2Root();
  if (root === undefined) return;
  for (const entry of readdirSync(root)) {
    if (!entry.startsWith(nodeCgroupPrefix(clusterName))) continue;
    try {
      rmdirSync(join(root, entry));
    } catch {
      // still holds a process: the next stop removes it
    }
  }
}

/** The mount point of the cgroup v2 hierarchy when this process may make cgroups in it. */
function cgroup2Root(): string | undefined {
  let mounts: string;
  try {
    mounts = readFileSync("/proc/mounts", "utf8");
  } catch {
    return undefined;
  }
  const root = mounts
    .split("\n")
    .map((line) => line.split(" "))
    .find((fields) => fields[2] === "cgroup2")?.[1];
  if (root === undefined) return undefined;
  try {
    accessSync(root, constants.W_OK);
    return root;
  } catch {
    return undefined;
  }
}

async function nft(script: string): Promise<void> {
  const result = await runCommandAsync(requireCommand("nft", nftHint), ["-f", "-"], {
    input: script,
    timeoutMs: 10_000,
  });
  if (result.status !== 0) {
    throw new HarnessError(
      `nft -f - failed (${result.signal ?? `exit ${result.status}`}): ${result.stderr.trim()}\n(nftables needs root, or CAP_NET_ADMIN)`,
    );
  }
}
