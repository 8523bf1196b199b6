// Ports on 127.0.0.1: whether one is free, and a refusal to start that names a taken port, what it was for
// and the setting that moves it.
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
