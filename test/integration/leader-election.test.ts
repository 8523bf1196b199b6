// Leader election on a real kube-apiserver: a candidate whose wall clock is hours off the leader's never takes a
// Lease that is being renewed, and a leader whose API calls hang steps down before the other candidate takes the
// Lease. Leadership changes are logged on one monotonic clock and only their order is checked.
import { performance } from "node:perf_hooks";
import { CoordinationV1Api, KubeConfig } from "@kubernetes/client-node";
import { expect } from "chai";
import { clusterPortCount } from "../../hack/harness/cluster-config.ts";
import { type Cluster, startCluster } from "../../hack/harness/cluster-run.ts";
import { freePortBase } from "../../hack/harness/ports.ts";
import { waitFor } from "../../hack/harness/wait.ts";
import { realElectionClock } from "../../operator/src/kube/election-clock.ts";
import { LeaderElector } from "../../operator/src/kube/leader-election.ts";
import { kubeLeaseApi, type LeaseApi } from "../../operator/src/kube/lease-api.ts";
import { type FreezableProxy, startFreezableProxy } from "../support/freezable-proxy.ts";
import { LeadershipLog } from "../support/leadership.ts";

// Short, so a test takes seconds; the request timeout stays inside the slack, as the elector requires.
const timings = {
  leaseDurationSeconds: 4,
  renewDeadlineMs: 3_000,
  retryPeriodMs: 300,
  requestTimeoutMs: 900,
};
const leaseDurationMs = timings.leaseDurationSeconds * 1000;
const hours = 3_600_000;

describe("operator leader election on a real API server", function () {
  this.timeout(60_000);
  let cluster: Cluster;
  let electors: LeaderElector[];
  let proxies: FreezableProxy[];
  let log: LeadershipLog;

  before(async function () {
    this.timeout(120_000);
    cluster = await startCluster({
      name: "leader-election-test",
      portBase: await freePortBase(clusterPortCount),
    });
  });

  after(async () => {
    await cluster?.stop();
  });

  beforeEach(() => {
    electors = [];
    proxies = [];
    log = new LeadershipLog(() => performance.now());
  });

  afterEach(async () => {
    await Promise.all(proxies.map((proxy) => proxy.close()));
    await Promise.all(electors.map((elector) => elector.stop()));
  });

  /** The Lease `name` in default, reached at `server` (the API server's own address unless a proxy's). */
  function leaseApi(name: string, server = cluster.server): LeaseApi {
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(cluster.kubeconfigPath);
    kubeConfig.loadFromOptions({
      clusters: kubeConfig.clusters.map((entry) => ({ ...entry, server })),
      users: kubeConfig.users,
      contexts: kubeConfig.contexts,
      currentContext: kubeConfig.currentContext,
    });
    return kubeLeaseApi(kubeConfig.makeApiClient(CoordinationV1Api), "default", name);
  }

  function campaign(identity: string, lease: LeaseApi, skewMs = 0): LeaderElector {
    const elector = new LeaderElector({
      lease,
      name: "election-test",
      identity,
      ...timings,
      clock: { ...realElectionClock, wall: () => Date.now() + skewMs },
      ...log.callbacksFor(identity),
      log: () => {},
    });
    electors.push(elector);
    void elector.run();
    return elector;
  }

  /** `api`, noting on the shared clock when each read is sent. */
  function noteReads(api: LeaseApi, reads: number[]): LeaseApi {
    return {
      ...api,
      read: (signal) => {
        reads.push(performance.now());
        return api.read(signal);
      },
    };
  }

  it("keeps the Lease from a candidate whose wall clock runs hours ahead while its holder, hours behind, renews", async () => {
    const leader = campaign("behind", leaseApi("skewed"), -3 * hours);
    await waitFor("the first candidate to lead", () => leader.isLeader);
    const candidateReads: number[] = [];
    campaign("ahead", noteReads(leaseApi("skewed"), candidateReads), 3 * hours);
    // The candidate has looked at the Lease over two lease durations of its own: long enough for any
    // expiry it could have judged, and what it saw was the holder renewing.
    await waitFor("the candidate to watch the Lease for two lease durations", () => {
      const [first, last] = [candidateReads[0], candidateReads.at(-1)];
      return first !== undefined && last !== undefined && last - first > 2 * leaseDurationMs;
    });
    expect(log.of("ahead")).to.deep.equal([]);
    expect(log.of("behind").map((change) => change.leading)).to.deep.equal([true]);
    expect(leader.isLeader).to.equal(true);
    expect((await leaseApi("skewed").read(AbortSignal.timeout(5_000)))?.spec?.holderIdentity).to.equal(
      "behind",
    );
  });

  it("steps a leader whose API calls hang down before the other candidate takes the Lease", async () => {
    const apiserver = new URL(cluster.server);
    const proxy = await startFreezableProxy({ host: apiserver.hostname, port: Number(apiserver.port) });
    proxies.push(proxy);
    const leader = campaign("cut-off", leaseApi("hung", `https://127.0.0.1:${proxy.port}`));
    await waitFor("the candidate behind the proxy to lead", () => leader.isLeader);
    const successor = campaign("successor", leaseApi("hung"));
    proxy.freeze();
    await waitFor("the second candidate to lead", () => successor.isLeader);
    const [started, stopped] = log.of("cut-off");
    expect(started?.leading).to.equal(true);
    expect(stopped?.leading, "the cut-off leader stepped down").to.equal(false);
    const [taken] = log.of("successor");
    expect(taken?.leading).to.equal(true);
    expect(stopped?.at, "the cut-off leader stepped down before the Lease was taken").to.be.below(
      taken?.at ?? Number.NaN,
    );
    log.expectNeverBothLeading("cut-off", "successor");
    expect(leader.isLeader).to.equal(false);
  });
});
