// The environment a worker pod of a Deployment would get, for running that worker as a local process (the
// demo, and tests where kwok stands in for the kubelet). Plain values are taken as they are; the one
// downward-API value the operator sets (KAFKA_CLIENT_ID from the pod's name) becomes `podName`.
import type { V1Deployment } from "@kubernetes/client-node";

export function workerEnvOf(deployment: V1Deployment, podName: string): Record<string, string> {
  const containers = deployment.spec?.template.spec?.containers ?? [];
  const worker = containers.find((container) => container.name === "worker") ?? containers[0];
  const env: Record<string, string> = {};
  for (const variable of worker?.env ?? []) {
    if (variable.value !== undefined) env[variable.name] = variable.value;
    else if (variable.valueFrom?.fieldRef?.fieldPath === "metadata.name") env[variable.name] = podName;
  }
  return env;
}
