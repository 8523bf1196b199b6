// The HTTP endpoints the kubelet and Prometheus read from either image: /metrics, /healthz (liveness) and
// /readyz (readiness). What live and ready mean is each process's own answer.
import { createServer, type Server } from "node:http";
import type { Registry } from "prom-client";

export interface Probes {
  /** The process can make progress (not wedged); false makes the kubelet restart it. */
  live: () => boolean;
  /** The process can take its share of work now: false takes it out of Service endpoints and rollouts wait. */
  ready: () => boolean;
}

/** /metrics for Prometheus, /healthz and /readyz for the kubelet. */
export function startHttpServer(port: number, registry: Registry, probes: Probes): Promise<Server> {
  const server = createServer((request, response) => {
    const path = (request.url ?? "/").split("?")[0];
    const answer = (status: number, body: string, type = "text/plain; charset=utf-8") => {
      response.writeHead(status, { "content-type": type }).end(body);
    };
    if (path === "/metrics") {
      registry.metrics().then(
        (body) => answer(200, body, registry.contentType),
        (error: Error) => answer(500, `metrics unavailable: ${error.message}\n`),
      );
    } else if (path === "/healthz") {
      answer(probes.live() ? 200 : 503, probes.live() ? "ok\n" : "not live\n");
    } else if (path === "/readyz") {
      answer(probes.ready() ? 200 : 503, probes.ready() ? "ok\n" : "not ready\n");
    } else {
      answer(404, "not found: try /metrics, /healthz or /readyz\n");
    }
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, () => resolve(server));
  });
}
