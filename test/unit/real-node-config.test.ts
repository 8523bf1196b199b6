import { expect } from "chai";
import { clusterPortCount, clusterPorts, serviceClusterIpRange } from "../../hack/harness/cluster-config.ts";
import {
  cniConfig,
  containerdConfig,
  kubeletConfig,
  podNetwork,
  realNodeFiles,
  realNodePorts,
} from "../../hack/harness/real-node-config.ts";

const files = realNodeFiles("/state/cluster/node");

describe("real node configuration", () => {
  it("gives the node's ports the block right after the control plane's", () => {
    const controlPlane = Object.values(clusterPorts(6443));
    const node = Object.values(realNodePorts(6443));
    expect(Math.min(...node)).to.equal(Math.max(...controlPlane) + 1);
    expect(new Set([...controlPlane, ...node]).size).to.equal(clusterPortCount + node.length);
  });

  it("keeps containerd's root, state, socket and runc state under the node's directory", () => {
    const config = containerdConfig(files, "kubesentiment/pause:abc");
    const paths = [...config.matchAll(/"(\/[^"]+)"/g)].map((match) => match[1] ?? "");
    expect(paths.filter((path) => !path.startsWith("/usr/lib/cni"))).to.not.be.empty;
    for (const path of paths.filter((p) => !p.startsWith("/usr/lib/cni")))
      expect(path).to.match(/^\/state\/cluster\/node\//);
    // Without it every sandbox fails here: root lacks CAP_SYS_RESOURCE.
    expect(config).to.include("restrict_oom_score_adj = true");
    expect(config).to.include('sandbox_image = "kubesentiment/pause:abc"');
  });

  it("routes pods to the pod subnet and the Service range only, never by default route", () => {
    const plugin = JSON.parse(cniConfig(files)).plugins[0];
    expect(plugin.ipam.routes).to.deep.equal([{ dst: serviceClusterIpRange }]);
    expect(plugin.ipam.ranges).to.deep.equal([[{ subnet: podNetwork.subnet, gateway: podNetwork.gateway }]]);
    expect(plugin.ipam.dataDir).to.equal(files.cniIpamDir);
    expect(plugin.isDefaultGateway).to.equal(undefined);
    expect(plugin.ipMasq).to.equal(false);
  });

  it("serves the kubelet on the pod gateway only, with webhook authentication and authorization", () => {
    const config = kubeletConfig(files, "/pki/ca.crt", 6443);
    expect(config).to.include(`address: ${podNetwork.gateway}\nport: ${realNodePorts(6443).kubelet}\n`);
    expect(config).to.include("readOnlyPort: 0\n");
    expect(config).to.include("  anonymous:\n    enabled: false\n  webhook:\n    enabled: true\n");
    expect(config).to.include("authorization:\n  mode: Webhook\n");
    expect(config).to.include("failCgroupV1: false\n");
  });
});
