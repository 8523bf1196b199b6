// Ports on 127.0.0.1: whether one is free, a free block of them for a test's services, and a refusal to start
// that names a taken port, what it was for and the setting that moves it.
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
 * A base port with `count` free consecutive ports from it. The OS picks the base among its ephemeral ports, so
 * runs side by side do not clash, nor do they with the fixed ports some tests use (below that range).
 */
export async function freePortBase(count: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = await portChosenByTheOs();
    const ports = Array.from({ length: count }, (_, i) => base + i);
    if (base + count < 65_000 && (await Promise.all(ports.map((port) => isPortFree(port)))).every(Boolean)) {
      return base;
    }
  }
  throw new HarnessError(`no block of ${count} free ports found on 127.0.0.1`);
}

function portChosenByTheOs(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address !== null ? address.port : 0));
    });
  });
}
