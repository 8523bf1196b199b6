// The real local control plane (hack/cluster.ts): it starts, reports the version it was built as, runs
// workloads on the kwok node, serves the aggregation layer's configuration, restarts idempotently, stops
// without leftovers, and fails fast and clearly on bad input.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { HarnessError } from "../../hack/harness/cli.ts";
import { kubernetesVersion } from "../../hack/harness/cluster-build.ts";
import { clusterPortCount, fakeNodeName } from "../../hack/harness/cluster-config.ts";
import { type Cluster, startCluster } from "../../hack/harness/cluster-run.ts";
import { repoRoot } from "../../hack/harness/dirs.ts";
import { kubectlFor } from "../../hack/harness/kubectl.ts";
import { freePortBase } from "../../hack/harness/ports.ts";
import { processesMentioning, readPid } from "../../hack/harness/processes.ts";

describe("local control plane", function () {
  this.timeout(120_000);
  let cluster: Cluster;
  let portBase: number;
  const kubectl = (args: string[]) => kubectlFor(cluster.kubeconfigPath).result(args);

  before(async () => {
    portBase = await freePortBase(clusterPortCount);
    cluster = await startCluster({
      name: "cluster-test",
      portBase,
      controllerManager: true,
      kwok: true,
      hpaSyncPeriodSeconds: 5,
    });
  });

  after(async () => {
    await cluster?.stop();
    expect(processesMentioning(cluster.dir)).to.deep.equal([]);
  });

  it("serves the Kubernetes version it was built from, to the kubectl built with it", () => {
    const result = kubectl(["version", "-o", "json"]);
    expect(result.status, result.stderr).to.equal(0);
    const versions = JSON.parse(result.stdout) as {
      clientVersion: { gitVersion: string };
      serverVersion: { gitVersion: string; major: string; minor: string };
    };
    expect(versions.serverVersion.gitVersion).to.equal(kubernetesVersion());
    expect(versions.clientVersion.gitVersion).to.equal(kubernetesVersion());
    expect(`v${versions.serverVersion.major}.${versions.serverVersion.minor}`).to.equal(
      kubernetesVersion().split(".").slice(0, 2).join("."),
    );
    expect(cluster.server).to.equal(`https://127.0.0.1:${portBase}`);
  });

  it("authenticates the admin as a member of system:masters, authorized by RBAC", () => {
    const result = kubectl(["auth", "whoami", "-o", "json"]);
    expect(result.status, result.stderr).to.equal(0);
    expect(JSON.parse(result.stdout).status.userInfo.groups).to.include("system:masters");
    const denied = kubectl(["auth", "can-i", "list", "secrets", "--as=nobody"]);
    expect(denied.stdout.trim()).to.equal("no");
  });

  it("publishes the front-proxy settings extension API servers (the external metrics API) rely on", () => {
    const result = kubectl([
      "get",
      "configmap",
      "extension-apiserver-authentication",
      "-n",
      "kube-system",
      "-o",
      "json",
    ]);
    expect(result.status, result.stderr).to.equal(0);
    const data = JSON.parse(result.stdout).data as Record<string, string>;
    expect(data["requestheader-allowed-names"]).to.equal('["front-proxy-client"]');
    expect(data["requestheader-username-headers"]).to.equal('["X-Remote-User"]');
    expect(data["requestheader-client-ca-file"]).to.contain("BEGIN CERTIFICATE");
  });

  it("runs a Deployment's pods on the kwok node through the controller manager and scheduler", async () => {
    const created = kubectl([
      "create",
      "deployment",
      "probe",
      "--image=registry.invalid/probe:1",
      "--replicas=2",
    ]);
    expect(created.status, created.stderr).to.equal(0);
    const waited = kubectl(["wait", "deployment/probe", "--for=condition=Available", "--timeout=60s"]);
    expect(waited.status, waited.stderr).to.equal(0);
    const pods = kubectl(["get", "pods", "-l", "app=probe", "-o", "json"]);
    const items = JSON.parse(pods.stdout).items as {
      spec: { nodeName: string };
      status: { phase: string };
    }[];
    expect(items).to.have.length(2);
    for (const pod of items) {
      expect(pod.spec.nodeName).to.equal(fakeNodeName);
      expect(pod.status.phase).to.equal("Running");
    }
  });

  it("finds the running cluster on a second start instead of starting another", async () => {
    const pid = readPid(join(cluster.dir, "kube-apiserver.pid"));
    const again = await startCluster({ name: "cluster-test", portBase, controllerManager: true, kwok: true });
    expect(again.kubeconfigPath).to.equal(cluster.kubeconfigPath);
    expect(readPid(join(cluster.dir, "kube-apiserver.pid"))).to.equal(pid);
  });

  it("refuses to restart the running cluster on other ports", async () => {
    const refusal = await startCluster({ name: "cluster-test", portBase: portBase + 10 }).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(refusal).to.be.instanceOf(HarnessError);
    expect((refusal as HarnessError).message).to.contain(
      `already running with kube-apiserver at https://127.0.0.1:${portBase}, not https://127.0.0.1:${portBase + 10}`,
    );
  });
});

describe("cluster harness on bad input", function () {
  this.timeout(60_000);
  let state: string;
  let cache: string;

  beforeEach(() => {
    state = mkdtempSync(join(tmpdir(), "ks-cluster-state-"));
    cache = mkdtempSync(join(tmpdir(), "ks-cluster-cache-"));
  });

  afterEach(() => {
    expect(processesMentioning(state)).to.deep.equal([]);
    rmSync(state, { recursive: true, force: true });
    rmSync(cache, { recursive: true, force: true });
  });

  /** Runs the CLI as a user would, with a private state directory; bounded so a hang fails the test. */
  function cli(args: string[], env: NodeJS.ProcessEnv) {
    const started = Date.now();
    const result = spawnSync(process.execPath, ["--import", "tsx", "hack/cluster.ts", ...args], {
      cwd: repoRoot,
      encoding: "utf8",
      timeout: 45_000,
      env: { ...process.env, KUBESENTIMENT_STATE: state, ...env },
    });
    return { ...result, seconds: (Date.now() - started) / 1000 };
  }

  async function listen(port: number): Promise<Server> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
    return server;
  }

  it("refuses a taken apiserver port, naming it and the variable that moves it", async () => {
    const base = await freePortBase(clusterPortCount);
    const blocker = await listen(base);
    try {
      const result = cli(["up"], { KUBESENTIMENT_CLUSTER_PORT: String(base) });
      expect(result.status).to.equal(1);
      expect(result.stderr).to.contain(`error: port ${base} (kube-apiserver) on 127.0.0.1 is already in use`);
      expect(result.stderr).to.contain("KUBESENTIMENT_CLUSTER_PORT");
    } finally {
      blocker.close();
    }
  });

  it("refuses a taken etcd port before starting anything", async () => {
    const base = await freePortBase(clusterPortCount);
    const blocker = await listen(base + 1);
    try {
      const result = cli(["up"], { KUBESENTIMENT_CLUSTER_PORT: String(base) });
      expect(result.status).to.equal(1);
      expect(result.stderr).to.contain(`error: port ${base + 1} (etcd)`);
    } finally {
      blocker.close();
    }
  });

  it("reports an etcd that exits instead of becoming ready, with its log, and leaves nothing running", async () => {
    // A file where etcd's data directory belongs: etcd cannot start on it.
    mkdirSync(join(state, "cluster"), { recursive: true });
    writeFileSync(join(state, "cluster", "etcd"), "not a directory");
    const result = cli(["up", "--minimal"], {
      KUBESENTIMENT_CLUSTER_PORT: String(await freePortBase(clusterPortCount)),
      KUBESENTIMENT_CLUSTER_READY_TIMEOUT: "20",
    });
    expect(result.status).to.equal(1);
    expect(result.stderr).to.match(
      /error: etcd exited before http:\/\/127\.0\.0\.1:\d+\/health reports healthy/,
    );
    expect(result.stderr).to.contain("logs/etcd.log");
    expect(result.seconds).to.be.below(30);
  });

  it("names openssl when it is missing", async () => {
    const result = cli(["up"], {
      PATH: "/nonexistent",
      KUBESENTIMENT_CLUSTER_PORT: String(await freePortBase(clusterPortCount)),
    });
    expect(result.status).to.equal(1);
    expect(result.stderr).to.contain("error: 'openssl' was not found on PATH");
  });

  it("names go when a build is needed and go is missing", () => {
    const result = cli(["build"], { PATH: "/nonexistent", KUBESENTIMENT_CACHE: cache });
    expect(result.status).to.equal(1);
    expect(result.stderr).to.contain("error: 'go' was not found on PATH");
  });

  it("rejects a malformed port setting", () => {
    const result = cli(["up"], { KUBESENTIMENT_CLUSTER_PORT: "sixty" });
    expect(result.status).to.equal(1);
    expect(result.stderr).to.contain("KUBESENTIMENT_CLUSTER_PORT=sixty is not a positive integer");
  });
});
