// Network partitions of local Kafka nodes, for fault tests: nftables rules that DROP (not reject: a partition
// answers nothing) loopback traffic to and from a node's ports. Each cluster's rules live in one table named after
// the cluster, so rules a crashed run left behind are removed with the cluster (stopKafka) or by the next cut.
import { HarnessError } from "./cli.ts";
import { requireCommand, runCommandAsync } from "./commands.ts";

const nftHint = "install nftables (hack/setup.sh test-tools does, as root: apt-get install nftables)";

/** The nftables table (family inet) holding a cluster's cut; nft names allow letters, digits and underscores. */
export function cutTableName(clusterName: string): string {
  return `kubesentiment_cut_${clusterName.replace(/[^A-Za-z0-9_]/g, "_")}`;
}

/**
 * The nft script that replaces `table`'s rules with a drop of every TCP segment to or from `ports` as it
 * arrives on loopback: both directions of every connection to those ports, existing ones included.
 */
export function cutScript(table: string, ports: readonly number[]): string {
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
    "}",
    "",
  ].join("\n");
}

/** Drops all loopback traffic to and from `ports` until removeCut(table); replaces the table's earlier cut. */
export async function cutPorts(table: string, ports: readonly number[]): Promise<void> {
  await nft(["-f", "-"], cutScript(table, ports));
}

/** Removes the table's cut, if any; does nothing where nftables is not installed (no cut can exist there). */
export async function removeCut(table: string): Promise<void> {
  try {
    requireCommand("nft", nftHint);
  } catch {
    return;
  }
  await nft(["-f", "-"], `table inet ${table}\ndelete table inet ${table}\n`);
}

async function nft(args: string[], input: string): Promise<void> {
  const result = await runCommandAsync(requireCommand("nft", nftHint), args, { input, timeoutMs: 10_000 });
  if (result.status !== 0) {
    throw new HarnessError(`nft ${args.join(" ")} failed (${result.signal ?? `exit ${result.status}`}): ${result.stderr.trim()}
(nftables needs root, or CAP_NET_ADMIN)`);
  }
}
