// Pure rendering of the control plane's configuration: ports, command lines and the kubeconfig, from one
// settings object. Nothing here touches the disk or starts anything, so it is cheap to test and to read.
import { join } from "node:path";
import { frontProxyClientName, type Pki } from "./cluster-pki.ts";
import { repoRoot } from "./dirs.ts";

/** What kwok does in place of a kubelet: node Ready, pod Running, deleted pod gone. */
export const kwokStagesFile = join(repoRoot, "hack", "k8s", "kwok-stages.yaml");

export interface ClusterSettings {
  /** State directory: etcd data, certificates, kubeconfig, logs and pid files. */
  dir: string;
  /** kube-apiserver's port; the others follow it (see clusterPorts) so one number moves a whole cluster. */
  portBase: number;
  /** How often the HPA controller re-evaluates; short in tests so scaling shows within seconds. */
  hpaSyncPeriodSeconds: number;
  /**
   * Where kube-apiserver listens and what it advertises: loopback, or with a real node the pod network's
   * gateway, so pods reach it through the `kubernetes` Service with their in-cluster configuration.
   */
  apiserverAddress: string;
}

/**
 * Service IPs: routed only on a real node (its kube-proxy), only allocated otherwise. The range is the usual one
 * so manifests that assume it behave as on a real cluster.
 */
export const serviceClusterIpRange = "10.96.0.0/16";
export const kubernetesServiceIp = "10.96.0.1";

/** Name of the fake node kwok keeps Ready; pods scheduled onto it become Running without a container runtime. */
export const fakeNodeName = "kwok-node-0";
/** Annotation kwok is told to manage nodes by, so a real node (never here) would be left alone. */
export const fakeNodeAnnotation = "kwok.x-k8s.io/node";

/** The apiserver's URL, as the harness, the kubeconfig and the real node's components reach it. */
export function apiserverUrl(settings: ClusterSettings): string {
  return `https://${settings.apiserverAddress}:${clusterPorts(settings.portBase).apiserver}`;
}

export function clusterPorts(portBase: number) {
  return {
    apiserver: portBase,
    etcdClient: portBase + 1,
    etcdPeer: portBase + 2,
    controllerManager: portBase + 3,
    kwok: portBase + 4,
    scheduler: portBase + 5,
  };
}

/** How many ports from its base a cluster uses. */
export const clusterPortCount = Object.keys(clusterPorts(0)).length;

export function clusterFiles(dir: string) {
  return {
    kubeconfig: join(dir, "kubeconfig"),
    /**
     * The apiserver URL the running cluster was started with, so a later `up` on another port, or with the
     * real node added or removed (which moves the apiserver), is refused.
     */
    server: join(dir, "server"),
    etcdData: join(dir, "etcd"),
    pki: join(dir, "pki"),
    kcmCerts: join(dir, "kcm-certs"),
    schedulerCerts: join(dir, "scheduler-certs"),
  };
}

export function etcdArgs(settings: ClusterSettings): string[] {
  const ports = clusterPorts(settings.portBase);
  const client = `http://127.0.0.1:${ports.etcdClient}`;
  const peer = `http://127.0.0.1:${ports.etcdPeer}`;
  return [
    "--name=default",
    `--data-dir=${clusterFiles(settings.dir).etcdData}`,
    `--listen-client-urls=${client}`,
    `--advertise-client-urls=${client}`,
    `--listen-peer-urls=${peer}`,
    `--initial-advertise-peer-urls=${peer}`,
    `--initial-cluster=default=${peer}`,
    // A throw-away development store: skipping fsync makes writes (and so the tests) several times faster.
    "--unsafe-no-fsync=true",
    "--log-level=warn",
  ];
}

export function apiserverArgs(settings: ClusterSettings, pki: Pki): string[] {
  const ports = clusterPorts(settings.portBase);
  return [
    `--etcd-servers=http://127.0.0.1:${ports.etcdClient}`,
    `--bind-address=${settings.apiserverAddress}`,
    `--advertise-address=${settings.apiserverAddress}`,
    // Endpoints may not point at loopback: without a real node there are no in-cluster clients, so the
    // kubernetes Service stays without endpoints; with one they point at the pod gateway.
    `--endpoint-reconciler-type=${settings.apiserverAddress === "127.0.0.1" ? "none" : "lease"}`,
    `--secure-port=${ports.apiserver}`,
    `--tls-cert-file=${pki.apiserverCert}`,
    `--tls-private-key-file=${pki.apiserverKey}`,
    `--client-ca-file=${pki.caCert}`,
    "--authorization-mode=Node,RBAC",
    "--allow-privileged=true",
    `--service-cluster-ip-range=${serviceClusterIpRange}`,
    "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
    `--service-account-key-file=${pki.serviceAccountPub}`,
    `--service-account-signing-key-file=${pki.serviceAccountKey}`,
    // Aggregation layer: the operator serves external.metrics.k8s.io behind an APIService. The apiserver
    // proxies to it with the front-proxy client certificate and the user in these headers; routing to
    // endpoints (not the service IP): only a real node's kube-proxy makes service IPs reachable, and the
    // apiserver reaches pod IPs directly (kwok's on loopback, a real node's on the bridge).
    `--requestheader-client-ca-file=${pki.frontProxyCaCert}`,
    `--requestheader-allowed-names=${frontProxyClientName}`,
    "--requestheader-username-headers=X-Remote-User",
    "--requestheader-group-headers=X-Remote-Group",
    "--requestheader-extra-headers-prefix=X-Remote-Extra-",
    `--proxy-client-cert-file=${pki.frontProxyClientCert}`,
    `--proxy-client-key-file=${pki.frontProxyClientKey}`,
    "--enable-aggregator-routing=true",
    `--kubelet-client-certificate=${pki.kubeletClientCert}`,
    `--kubelet-client-key=${pki.kubeletClientKey}`,
    // Node names here resolve nowhere: reach kubelets at their node IP.
    "--kubelet-preferred-address-types=InternalIP",
    "--profiling=false",
  ];
}

export function controllerManagerArgs(settings: ClusterSettings, pki: Pki): string[] {
  const files = clusterFiles(settings.dir);
  return [
    ...apiserverClientArgs(settings, clusterPorts(settings.portBase).controllerManager, files.kcmCerts),
    // Signs service-account tokens and publishes the CA the same way a real cluster does.
    `--service-account-private-key-file=${pki.serviceAccountKey}`,
    `--root-ca-file=${pki.caCert}`,
    `--horizontal-pod-autoscaler-sync-period=${settings.hpaSyncPeriodSeconds}s`,
  ];
}

export function schedulerArgs(settings: ClusterSettings): string[] {
  const files = clusterFiles(settings.dir);
  return apiserverClientArgs(settings, clusterPorts(settings.portBase).scheduler, files.schedulerCerts);
}

/** Shared by the controller manager and the scheduler: the admin's kubeconfig, /healthz on `port`, one instance. */
function apiserverClientArgs(settings: ClusterSettings, port: number, certDir: string): string[] {
  const { kubeconfig } = clusterFiles(settings.dir);
  return [
    `--kubeconfig=${kubeconfig}`,
    `--authentication-kubeconfig=${kubeconfig}`,
    `--authorization-kubeconfig=${kubeconfig}`,
    "--bind-address=127.0.0.1",
    `--secure-port=${port}`,
    `--cert-dir=${certDir}`,
    // One instance: no leader election, so it starts working at once instead of after a lease wait.
    "--leader-elect=false",
    "--profiling=false",
  ];
}

export function kwokArgs(settings: ClusterSettings): string[] {
  const files = clusterFiles(settings.dir);
  return [
    `--kubeconfig=${files.kubeconfig}`,
    `--config=${kwokStagesFile}`,
    "--manage-all-nodes=false",
    `--manage-nodes-with-annotation-selector=${fakeNodeAnnotation}=fake`,
    // Fake pod and node addresses stay on loopback, so anything that tries to reach them (the aggregator,
    // a curious client) stays on this machine.
    "--cidr=127.10.0.0/16",
    "--node-ip=127.0.0.1",
    `--server-address=127.0.0.1:${clusterPorts(settings.portBase).kwok}`,
    "--node-lease-duration-seconds=40",
  ];
}

/** The fake node kwok manages: big enough that scheduling never fails for lack of room. */
export function fakeNodeManifest(): Record<string, unknown> {
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: {
      name: fakeNodeName,
      annotations: { [fakeNodeAnnotation]: "fake", "node.alpha.kubernetes.io/ttl": "0" },
      labels: { "kubernetes.io/hostname": fakeNodeName, "kubernetes.io/os": "linux", type: "kwok" },
    },
    spec: {},
    status: {
      allocatable: { cpu: "32", memory: "256Gi", pods: "110" },
      capacity: { cpu: "32", memory: "256Gi", pods: "110" },
    },
  };
}

/** A kubeconfig with the certificates inlined, so the file alone is enough (it can be copied elsewhere). */
export function renderKubeconfig(server: string, ca: Buffer, clientCert: Buffer, clientKey: Buffer): string {
  const b64 = (data: Buffer) => data.toString("base64");
  return `apiVersion: v1
kind: Config
clusters:
  - name: kubesentiment
    cluster:
      server: ${server}
      certificate-authority-data: ${b64(ca)}
users:
  - name: kubesentiment-admin
    user:
      client-certificate-data: ${b64(clientCert)}
      client-key-data: ${b64(clientKey)}
contexts:
  - name: kubesentiment
    context:
      cluster: kubesentiment
      user: kubesentiment-admin
      namespace: default
current-context: kubesentiment
`;
}
