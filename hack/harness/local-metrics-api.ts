// The operator's external.metrics.k8s.io served by an operator running on this machine rather than in a pod (the
// demo, the e2e tests): its serving certificate, made as the chart makes it in a cluster, and the Service,
// EndpointSlice and APIService that route the aggregation layer to this machine's address and the operator's port.
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { networkInterfaces, tmpdir } from "node:os";
import { join } from "node:path";
import { selfSignedCa, signedLeaf } from "./cluster-pki.ts";
import { requireCommand } from "./commands.ts";
import type { Kubectl } from "./kubectl.ts";

const serviceName = "kubesentiment-metrics";
const apiServiceName = "v1beta1.external.metrics.k8s.io";

/** This machine's first non-loopback IPv4 address: the aggregator reaches the operator there. */
export function hostAddress(): string {
  const address = Object.values(networkInterfaces())
    .flat()
    .find((entry) => entry?.family === "IPv4" && !entry.internal)?.address;
  if (address === undefined)
    throw new Error("this machine has no non-loopback IPv4 address for the aggregator to reach");
  return address;
}

export interface MetricsApiCertificates {
  /** The directory of all three, named as a Kubernetes TLS Secret mounts them (ca.crt, tls.crt, tls.key). */
  dir: string;
  caCert: string;
  cert: string;
  key: string;
  remove(): void;
}

/**
 * A CA and a serving certificate for the address the APIService's Service (`service`) will point at, and for
 * loopback, in `dir` (a new temporary directory by default); `usage` serverAuth,clientAuth for a server that also
 * dials a peer with it (KEDA's metrics server and operator, over gRPC).
 */
export function makeMetricsApiCertificates(
  namespace: string,
  {
    service = serviceName,
    usage = "serverAuth",
    dir = mkdtempSync(join(tmpdir(), "kubesentiment-metrics-")),
  }: { service?: string; usage?: "serverAuth" | "serverAuth,clientAuth"; dir?: string } = {},
): MetricsApiCertificates {
  mkdirSync(dir, { recursive: true });
  const openssl = requireCommand("openssl", "install openssl");
  const ca = { cert: join(dir, "ca.crt"), key: join(dir, "ca.key") };
  selfSignedCa(openssl, ca.cert, ca.key, "kubesentiment-metrics-ca");
  const leaf = { cert: join(dir, "tls.crt"), key: join(dir, "tls.key") };
  signedLeaf(openssl, ca, {
    ...leaf,
    subject: `/CN=${service}`,
    usage,
    san: `IP:127.0.0.1,IP:${hostAddress()},DNS:${service}.${namespace}.svc`,
  });
  return { dir, caCert: ca.cert, ...leaf, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Routes external.metrics.k8s.io to the metrics API on this machine's `port` (the operator's, or KEDA's metrics
 * server behind a Service named `service`), and waits until the aggregator says it is Available. Async kubectl
 * for the wait: the operator answering the aggregator may run in this process.
 */
export async function registerLocalMetricsApi(
  kubectl: Kubectl,
  namespace: string,
  port: number,
  caCertFile: string,
  service = serviceName,
): Promise<void> {
  kubectl.apply(
    JSON.stringify({
      apiVersion: "v1",
      kind: "List",
      items: [
        {
          apiVersion: "v1",
          kind: "Service",
          metadata: { name: service, namespace },
          spec: { ports: [{ name: "https", port: 443, targetPort: port }] },
        },
        {
          apiVersion: "discovery.k8s.io/v1",
          kind: "EndpointSlice",
          metadata: {
            name: `${service}-local`,
            namespace,
            labels: { "kubernetes.io/service-name": service },
          },
          addressType: "IPv4",
          endpoints: [{ addresses: [hostAddress()], conditions: { ready: true } }],
          ports: [{ name: "https", port, protocol: "TCP" }],
        },
        {
          apiVersion: "apiregistration.k8s.io/v1",
          kind: "APIService",
          metadata: { name: apiServiceName },
          spec: {
            group: "external.metrics.k8s.io",
            version: "v1beta1",
            service: { name: service, namespace, port: 443 },
            caBundle: readFileSync(caCertFile).toString("base64"),
            groupPriorityMinimum: 100,
            versionPriority: 100,
          },
        },
      ],
    }),
  );
  await kubectl.runAsync([
    "wait",
    "--for=condition=Available",
    `apiservice/${apiServiceName}`,
    "--timeout=60s",
  ]);
}
