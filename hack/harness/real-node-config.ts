// Pure rendering of the real node: where containerd, the kubelet and CNI keep their state (all under one
// directory, so `down` knows what to remove), its ports and addresses, and its components' configuration files.
// Nothing here touches the disk or starts anything.
import { join } from "node:path";
import { clusterPortCount, serviceClusterIpRange } from "./cluster-config.ts";

/** The real node's name; its kubelet's client certificate is `system:node:<name>`. */
export const realNodeName = "kubesentiment-node";
/** Label of the real node (kwok's fake node says `type: kwok`); kwok manages only nodes annotated as fake. */
export const realNodeLabel = { key: "type", value: "real" } as const;

/**
 * The pod network: one bridge with the gateway on this machine. Pods get routes to the pod subnet and the
 * Service range only, no default route: they reach this machine's own components and nothing beyond.
 */
export const podNetwork = {
  bridge: "kubesentiment0",
  subnet: "10.88.0.0/24",
  gateway: "10.88.0.1",
  prefixLength: 24,
} as const;

export const clusterDomain = "cluster.local";

/** The CNI plugins Debian's containernetworking-plugins installs. */
export const cniPluginDir = "/usr/lib/cni";

/** Ports on the pod gateway or loopback, after the control plane's (see clusterPorts). */
export function realNodePorts(portBase: number) {
  const first = portBase + clusterPortCount;
  return {
    kubelet: first,
    kubeletHealthz: first + 1,
    proxyHealthz: first + 2,
    proxyMetrics: first + 3,
    dnsReady: first + 4,
  };
}

/** How many ports after the control plane's the real node uses. */
export const realNodePortCount = Object.keys(realNodePorts(0)).length;

export function realNodeFiles(dir: string) {
  return {
    dir,
    containerdRoot: join(dir, "containerd", "root"),
    containerdState: join(dir, "containerd", "state"),
    containerdConfig: join(dir, "containerd", "config.toml"),
    containerdSocket: join(dir, "containerd", "containerd.sock"),
    runcRoot: join(dir, "runc"),
    cniConfDir: join(dir, "cni", "net.d"),
    cniIpamDir: join(dir, "cni", "ipam"),
    kubeletRoot: join(dir, "kubelet"),
    podLogs: join(dir, "pod-logs"),
    kubeletConfig: join(dir, "kubelet.yaml"),
    kubeletKubeconfig: join(dir, "kubelet.kubeconfig"),
    kubeletCert: join(dir, "pki", "kubelet.crt"),
    kubeletKey: join(dir, "pki", "kubelet.key"),
    kubeletServingCert: join(dir, "pki", "kubelet-serving.crt"),
    kubeletServingKey: join(dir, "pki", "kubelet-serving.key"),
    proxyConfig: join(dir, "kube-proxy.yaml"),
    corefile: join(dir, "Corefile"),
    /** What the machine looked like before the first `up`, so `down` puts back exactly that. */
    before: join(dir, "before.json"),
  };
}

export type RealNodeFiles = ReturnType<typeof realNodeFiles>;

/**
 * containerd 1.6's configuration: its own root, state and socket; the CRI plugin with the pause image built
 * here, runc state under the node's directory, and CNI from the node's own config directory.
 * restrict_oom_score_adj: root here lacks CAP_SYS_RESOURCE, and without it runc fails every sandbox writing
 * oom_score_adj lower than its own ("can't get final child's PID from pipe: EOF").
 */
export function containerdConfig(files: RealNodeFiles, pauseImage: string): string {
  return `version = 2
root = "${files.containerdRoot}"
state = "${files.containerdState}"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs"]

[grpc]
  address = "${files.containerdSocket}"

[ttrpc]
  address = "${files.containerdSocket}.ttrpc"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${pauseImage}"
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"

[plugins."io.containerd.grpc.v1.cri".containerd]
  snapshotter = "overlayfs"
  default_runtime_name = "runc"

[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"

[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
  Root = "${files.runcRoot}"
  SystemdCgroup = false

[plugins."io.containerd.grpc.v1.cri".cni]
  bin_dir = "${cniPluginDir}"
  conf_dir = "${files.cniConfDir}"
`;
}

/** The pod network's CNI configuration: a bridge with the gateway on it and host-local addresses. */
export function cniConfig(files: RealNodeFiles): string {
  return `${JSON.stringify(
    {
      cniVersion: "1.0.0",
      name: "kubesentiment",
      plugins: [
        {
          type: "bridge",
          bridge: podNetwork.bridge,
          isGateway: true,
          ipMasq: false,
          hairpinMode: true,
          ipam: {
            type: "host-local",
            dataDir: files.cniIpamDir,
            ranges: [[{ subnet: podNetwork.subnet, gateway: podNetwork.gateway }]],
            routes: [{ dst: serviceClusterIpRange }],
          },
        },
      ],
    },
    null,
    2,
  )}\n`;
}

/**
 * The kubelet's configuration: cgroup v1 with cgroupfs (this host has no systemd), swap tolerated, the API
 * served only on the pod gateway, and webhook authentication and authorization so the apiserver's kubelet
 * client (and only principals the apiserver allows) can read logs and exec.
 */
export function kubeletConfig(files: RealNodeFiles, caCert: string, portBase: number): string {
  const ports = realNodePorts(portBase);
  return `apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: ${podNetwork.gateway}
port: ${ports.kubelet}
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: ${ports.kubeletHealthz}
tlsCertFile: ${files.kubeletServingCert}
tlsPrivateKeyFile: ${files.kubeletServingKey}
authentication:
  anonymous:
    enabled: false
  webhook:
    enabled: true
  x509:
    clientCAFile: ${caCert}
authorization:
  mode: Webhook
containerRuntimeEndpoint: unix://${files.containerdSocket}
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
clusterDomain: ${clusterDomain}
clusterDNS: [${podNetwork.gateway}]
podLogsDir: ${files.podLogs}
resolvConf: ""
# The machine is shared with other work: evict only when nearly out, never because a neighbour filled the disk.
evictionHard:
  memory.available: 100Mi
  nodefs.available: 1%
  imagefs.available: 1%
  nodefs.inodesFree: 1%
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
serializeImagePulls: false
`;
}

/** kube-proxy in nftables mode, serving only on loopback, leaving conntrack's sysctls as they are. */
export function kubeProxyConfig(kubeconfig: string, portBase: number): string {
  const ports = realNodePorts(portBase);
  return `apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: nftables
clientConnection:
  kubeconfig: ${kubeconfig}
hostnameOverride: ${realNodeName}
bindAddress: 127.0.0.1
healthzBindAddress: 127.0.0.1:${ports.proxyHealthz}
metricsBindAddress: 127.0.0.1:${ports.proxyMetrics}
clusterCIDR: ${podNetwork.subnet}
nodePortAddresses: ["${podNetwork.subnet}"]
conntrack:
  maxPerCore: 0
  min: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
`;
}

/**
 * CoreDNS as a process of this machine on the pod gateway's port 53 (where the kubelet points pods' resolv.conf),
 * answering for Service and pod names from the API. Only the cluster's zone: pods reach nothing beyond this
 * machine, so there is nowhere to forward other names to. Ready (on loopback) once it has listed the API.
 */
export function corefile(kubeconfig: string, portBase: number): string {
  return `${clusterDomain}:53 {
    bind ${podNetwork.gateway}
    errors
    ready 127.0.0.1:${realNodePorts(portBase).dnsReady}
    kubernetes ${clusterDomain} {
        kubeconfig ${kubeconfig}
    }
}
`;
}

export function corednsArgs(files: RealNodeFiles): string[] {
  return ["-conf", files.corefile];
}

export function kubeletArgs(files: RealNodeFiles): string[] {
  return [
    `--config=${files.kubeletConfig}`,
    `--kubeconfig=${files.kubeletKubeconfig}`,
    `--root-dir=${files.kubeletRoot}`,
    `--hostname-override=${realNodeName}`,
    `--node-ip=${podNetwork.gateway}`,
    `--node-labels=${realNodeLabel.key}=${realNodeLabel.value}`,
    "--v=1",
  ];
}

export function kubeProxyArgs(files: RealNodeFiles): string[] {
  return [`--config=${files.proxyConfig}`];
}
