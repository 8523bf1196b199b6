// The worker Service: a stable name in front of the workers' HTTP port, which is how Prometheus (or anything
// else) reaches /metrics. Workers take no traffic through it; their input is Kafka.
import type { V1Service } from "@kubernetes/client-node";
import type { ResolvedPipeline } from "../pipeline.ts";
import { selectorLabels, workerObjectMeta } from "./labels.ts";
import { workerHttpPort, workerHttpPortName } from "./worker-env.ts";

export function renderWorkerService(pipeline: ResolvedPipeline): V1Service {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: workerObjectMeta(pipeline),
    spec: {
      type: "ClusterIP",
      selector: selectorLabels(pipeline),
      ports: [
        {
          name: workerHttpPortName,
          port: workerHttpPort,
          targetPort: workerHttpPortName,
          protocol: "TCP",
          appProtocol: "http",
        },
      ],
      // A worker whose circuit breaker is open is not ready, and its metrics are what explain why.
      publishNotReadyAddresses: true,
    },
  };
}
