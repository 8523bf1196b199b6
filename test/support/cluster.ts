// Test helpers around the local control plane: a free block of ports, and a check for leftover processes of a
// state directory.
import { readdirSync, readFileSync } from "node:fs";
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
