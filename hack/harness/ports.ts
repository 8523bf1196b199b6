// Ports on 127.0.0.1: whether one is free, a free block of them for a test's services, and a refusal to start
// that names a taken port, what it was for and the setting that moves it.
import { randomInt } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { HarnessError } from "./cli.ts";

export async function isPortFree(port: number, host = "127.0.0.1"): Promise<boolean> {
  return new Promise((resolvePort) => {
    const server = createServer();
    server.once("error", () => resolvePort(false));
    server.listen(port, host, () => server.close(() => resolvePort(true)));
  });
}

/** Refuses to start when a port is taken, naming the port, its purpose and the variable that moves it. */
export async function assertPortsFree(
  ports: { port: number; purpose: string; setting: string }[],
): Promise<void> {
  for (const { port, purpose, setting } of ports) {
    if (!(await isPortFree(port))) {
      throw new HarnessError(
        `port ${port} (${purpose}) on 127.0.0.1 is already in use by another process: stop that process or set ${setting}`,
      );
    }
  }
}

/**
 * A base port with `count` free consecutive ports from it, chosen at random below the OS's ephemeral range.
 * Inside that range the OS hands ports out as the local end of outgoing connections (an API server's to etcd, a
 * Kafka client's), which could take a port of the block between this check and the service's bind; below it, only
 * another service's explicit bind could, and random bases keep runs side by side apart.
 */
export async function freePortBase(count: number): Promise<number> {
  const highest = ephemeralPortsStart() - count;
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = lowestPort + randomInt(highest - lowestPort);
    const ports = Array.from({ length: count }, (_, i) => base + i);
    if ((await Promise.all(ports.map((port) => isPortFree(port)))).every(Boolean)) return base;
  }
  throw new HarnessError(`no block of ${count} free ports found on 127.0.0.1`);
}

/** Above the well-known and commonly configured ports (a developer's Kafka on 9092, a control plane on 6443). */
const lowestPort = 10_000;

/** Where the OS's ephemeral ports start (Linux's ip_local_port_range; its default elsewhere). */
function ephemeralPortsStart(): number {
  try {
    const start = Number(
      readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0],
    );
    return Number.isInteger(start) && start > lowestPort + 1000 ? start : defaultEphemeralStart;
  } catch {
    return defaultEphemeralStart;
  }
}

const defaultEphemeralStart = 32_768;
