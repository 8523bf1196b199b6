// The pure parts of the control-plane harness: version pins read from go.mod, binary naming, linker flags
// and the rendered command lines. Fast; no process is started.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { expect } from "chai";
import { goModuleDir, versionLdflags } from "../../hack/harness/cluster-build.ts";
import { apiserverArgs, clusterPorts, etcdArgs, kwokArgs } from "../../hack/harness/cluster-config.ts";
import { pkiPaths } from "../../hack/harness/cluster-pki.ts";
import { goBinaryName, goDirective, requiredVersion, versionAtLeast } from "../../hack/harness/go-build.ts";

describe("cluster harness configuration", () => {
  const goMod = readFileSync(join(goModuleDir, "go.mod"), "utf8");
  const settings = {
    dir: "/state/cluster",
    portBase: 7000,
    hpaSyncPeriodSeconds: 5,
    apiserverAddress: "127.0.0.1",
  };

  it("pins one Kubernetes release and maps every staging module to its matching v0 release", () => {
    const version = requiredVersion(goMod, "k8s.io/kubernetes");
    expect(version).to.match(/^v1\.\d+\.\d+$/);
    const staging = `v0${version.slice(2)}`;
    const replaced = [...goMod.matchAll(/^\t(k8s\.io\/\S+) => \1 (v\S+)$/gm)];
    expect(replaced.map((match) => match[1])).to.include.members([
      "k8s.io/api",
      "k8s.io/client-go",
      "k8s.io/kubectl",
    ]);
    for (const [line, , pinned] of replaced) expect(pinned, line).to.equal(staging);
    expect(versionAtLeast("1.26.8", goDirective(goMod))).to.equal(true);
  });

  it("compares dotted versions numerically", () => {
    expect(versionAtLeast("1.26.8", "1.26.0")).to.equal(true);
    expect(versionAtLeast("1.26", "1.26.0")).to.equal(true);
    expect(versionAtLeast("1.9.9", "1.26.0")).to.equal(false);
  });

  it("names binaries as go build does, skipping a major-version suffix", () => {
    expect(goBinaryName("go.etcd.io/etcd/server/v3")).to.equal("server");
    expect(goBinaryName("k8s.io/kubernetes/cmd/kubectl")).to.equal("kubectl");
  });

  it("stamps the release into both version packages and strips symbols", () => {
    const flags = versionLdflags("v1.37.2", "2026-01-01T00:00:00Z");
    expect(flags.startsWith("-s -w ")).to.equal(true);
    for (const pkg of ["k8s.io/component-base/version", "k8s.io/client-go/pkg/version"]) {
      expect(flags).to.contain(`-X ${pkg}.gitVersion=v1.37.2`);
      expect(flags).to.contain(`-X ${pkg}.gitMajor=1 -X ${pkg}.gitMinor=37`);
    }
  });

  it("gives each component its own port after the apiserver's", () => {
    const ports = Object.values(clusterPorts(7000));
    expect(new Set(ports).size).to.equal(ports.length);
    expect(Math.min(...ports)).to.equal(7000);
    expect(Math.max(...ports)).to.equal(7005);
  });

  it("keeps every listener on loopback", () => {
    const args = [
      ...etcdArgs(settings),
      ...apiserverArgs(settings, pkiPaths("/state/pki")),
      ...kwokArgs(settings),
    ];
    for (const url of args.join(" ").match(/\b\d+\.\d+\.\d+\.\d+(?::\d+)?/g) ?? []) {
      if (url.includes(":")) expect(url.startsWith("127.0.0.1:")).to.equal(true, url);
    }
  });

  it("with a real node, serves and advertises the apiserver on the pod gateway, the kubernetes Service's endpoint", () => {
    const args = apiserverArgs({ ...settings, apiserverAddress: "10.88.0.1" }, pkiPaths("/state/pki"));
    expect(args).to.include.members([
      "--bind-address=10.88.0.1",
      "--advertise-address=10.88.0.1",
      "--endpoint-reconciler-type=lease",
    ]);
    expect(apiserverArgs(settings, pkiPaths("/state/pki"))).to.include("--endpoint-reconciler-type=none");
  });

  it("configures the aggregation layer for an external metrics APIService", () => {
    const args = apiserverArgs(settings, pkiPaths("/state/pki"));
    expect(args).to.include.members([
      "--authorization-mode=Node,RBAC",
      "--enable-aggregator-routing=true",
      "--requestheader-allowed-names=front-proxy-client",
      "--requestheader-client-ca-file=/state/pki/front-proxy-ca.crt",
      "--proxy-client-cert-file=/state/pki/front-proxy-client.crt",
      "--proxy-client-key-file=/state/pki/front-proxy-client.key",
      "--etcd-servers=http://127.0.0.1:7001",
      "--secure-port=7000",
    ]);
  });
});
