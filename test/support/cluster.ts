// Test helpers around the local control plane: a free block of ports, kubectl (the one built by
// hack/cluster.ts build, not whatever is on PATH) against a given kubeconfig, and a check for leftover
// processes of a state directory.
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { clusterBinaries } from "../../hack/harness/cluster-build.ts";
import { isPortFree } from "../../hack/harness/ports.ts";

/** A base port whose block of six (apiserver, etcd client/peer, controller manager, kwok, scheduler) is free. */
export async function freePortBase(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 20_000);
    const ports = Array.from({ length: 6 }, (_, i) => base + i);
    if ((await Promise.all(ports.map((port) => isPortFree(port)))).every(Boolean)) return base;
  }
  throw new Error("no free block of six ports found between 20000 and 40000");
}

export interface CommandResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the built kubectl against `kubeconfig`; never throws on a non-zero exit (tests assert on it). */
export function kubectl(kubeconfig: string, args: string[], input?: string): CommandResult {
  const result = spawnSync(clusterBinaries().kubectl, args, {
    encoding: "utf8",
    env: { ...process.env, KUBECONFIG: kubeconfig },
    timeout: 60_000,
    ...(input === undefined ? {} : { input }),
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Command lines of live processes that mention `text` (the control plane names its state dir in each). */
export function processesMentioning(text: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, "utf8").replaceAll("\0", " ");
      if (cmdline.includes(text)) found.push(`${entry}: ${cmdline.slice(0, 160)}`);
    } catch {
      // exited while we looked
    }
  }
  return found;
}
