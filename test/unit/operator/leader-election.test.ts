import { expect } from "chai";
import { LeaderElector } from "../../../operator/src/kube/leader-election.ts";
import { mayTake, observe } from "../../../operator/src/kube/lease-observation.ts";
import { LeadershipLog } from "../../support/leadership.ts";
import { ManualTimers } from "../worker/manual-timers.ts";
import { FakeLeaseServer, manualElectionClock } from "./fake-lease.ts";

const timings = {
  leaseDurationSeconds: 15,
  renewDeadlineMs: 10_000,
  retryPeriodMs: 2_000,
  requestTimeoutMs: 4_000,
};
const leaseDurationMs = timings.leaseDurationSeconds * 1000;
const hours = 3_600_000;

describe("operator leader election", () => {
  let timers: ManualTimers;
  let server: FakeLeaseServer;
  let electors: LeaderElector[];
  let log: LeadershipLog;

  beforeEach(() => {
    timers = new ManualTimers();
    server = new FakeLeaseServer(timers);
    electors = [];
    log = new LeadershipLog(() => timers.now);
  });

  afterEach(async () => {
    server.heal();
    const stopped = Promise.all(electors.map((elector) => elector.stop()));
    await timers.advance(timings.retryPeriodMs * 2);
    await stopped;
  });

  /** Starts campaigning with its wall clock `skewMs` off, on a monotonic clock of an origin of its own. */
  function campaign(identity: string, skewMs = 0): LeaderElector {
    const elector = new LeaderElector({
      lease: server.apiFor(identity),
      name: "test-lease",
      identity,
      ...timings,
      clock: manualElectionClock(timers, skewMs, electors.length * 7_777_777),
      ...log.callbacksFor(identity),
      log: () => {},
    });
    electors.push(elector);
    void elector.run();
    return elector;
  }

  it("takes a missing Lease at once and keeps it while it renews", async () => {
    const a = campaign("a");
    await timers.advance(0);
    expect(a.isLeader).to.equal(true);
    await timers.advance(10 * leaseDurationMs);
    expect(log.of("a")).to.deep.equal([{ leading: true, at: 0 }]);
    expect(server.lease?.spec).to.include({ holderIdentity: "a", leaseTransitions: 0 });
  });

  it("takes a released Lease at once", async () => {
    const a = campaign("a");
    await timers.advance(0);
    await a.stop();
    const b = campaign("b");
    await timers.advance(0);
    expect(b.isLeader).to.equal(true);
    expect(server.lease?.spec).to.include({ holderIdentity: "b", leaseTransitions: 1 });
  });

  for (const skewMs of [3 * hours, -3 * hours]) {
    it(`never takes a Lease its holder keeps renewing, with the candidate's wall clock ${skewMs / hours} h off`, async () => {
      campaign("a");
      await timers.advance(1_000);
      campaign("b", skewMs);
      await timers.advance(10 * leaseDurationMs);
      expect(log.of("b")).to.deep.equal([]);
      expect(log.of("a")).to.deep.equal([{ leading: true, at: 0 }]);
      expect(server.lease?.spec?.holderIdentity).to.equal("a");
    });

    it(`takes a Lease whose holder stopped renewing only after leaseDuration of its own observation, with its wall clock ${skewMs / hours} h off`, async () => {
      campaign("a");
      await timers.advance(1_000);
      campaign("b", skewMs);
      await timers.advance(5_000);
      server.set("a", { hung: true });
      const lastRenewal = server.writes.get("a")?.at(-1) ?? Number.NaN;
      await timers.advance(3 * leaseDurationMs);
      const [taken] = log.of("b");
      expect(taken?.leading, "b took the Lease").to.equal(true);
      // b saw a's last renewal on its next read, at most a retryPeriod later, and waited leaseDuration from then.
      expect(taken?.at).to.be.greaterThan(lastRenewal + leaseDurationMs);
      expect(taken?.at).to.be.at.most(lastRenewal + leaseDurationMs + 2 * timings.retryPeriodMs);
      log.expectNeverBothLeading("a", "b");
    });
  }

  it("waits leaseDuration from its own first look, however long ago the holder last renewed", async () => {
    server.lease = {
      metadata: { name: "test-lease", resourceVersion: "41" },
      spec: {
        holderIdentity: "gone",
        leaseDurationSeconds: 15,
        renewTime: new Date(0),
        acquireTime: new Date(0),
      },
    };
    const b = campaign("b");
    await timers.advance(leaseDurationMs - 1);
    expect(log.of("b")).to.deep.equal([]);
    await timers.advance(2 * timings.retryPeriodMs);
    expect(b.isLeader).to.equal(true);
    expect(server.lease?.spec).to.include({ holderIdentity: "b", leaseTransitions: 1 });
  });

  it("steps down within renewDeadline of its last good renewal's start when its calls hang, before anyone may take the Lease", async () => {
    campaign("a");
    await timers.advance(0);
    // Slow but successful renewals: the deadline counts from when each began, not from when it was answered.
    server.set("a", { delayMs: 1_500 });
    const b = campaign("b");
    await timers.advance(20_000);
    server.set("a", { hung: true });
    await timers.advance(3 * leaseDurationMs);
    const lastGoodRenewalStart = server.lastGoodRenewalStart("a");
    const stopped = log.of("a").find((change) => !change.leading);
    expect(stopped, "a stepped down").to.not.equal(undefined);
    expect(stopped?.at).to.be.at.most(lastGoodRenewalStart + timings.renewDeadlineMs);
    expect(server.pending.get("a"), "a's hung calls were given up").to.equal(0);
    expect(b.isLeader).to.equal(true);
    log.expectNeverBothLeading("a", "b");
  });

  it("gives up a call that never answers after requestTimeoutMs and renews on the next try", async () => {
    const a = campaign("a");
    await timers.advance(timings.retryPeriodMs);
    server.set("a", { hung: true });
    await timers.advance(timings.retryPeriodMs);
    // The next call answers; the one hanging is still waiting, and only its timeout can end it.
    server.set("a", { hung: false });
    expect(server.pending.get("a")).to.equal(1);
    await timers.advance(timings.requestTimeoutMs);
    expect(server.pending.get("a")).to.equal(0);
    await timers.advance(timings.renewDeadlineMs);
    expect(a.isLeader).to.equal(true);
    expect(log.of("a")).to.deep.equal([{ leading: true, at: 0 }]);
  });

  it("steps down at once when it reads that another holds the Lease", async () => {
    const a = campaign("a");
    await timers.advance(timings.retryPeriodMs / 2);
    const lease = server.lease;
    server.lease = { ...lease, spec: { ...lease?.spec, holderIdentity: "intruder" } };
    await timers.advance(timings.retryPeriodMs);
    expect(a.isLeader).to.equal(false);
    expect(log.of("a")).to.deep.equal([
      { leading: true, at: 0 },
      { leading: false, at: timings.retryPeriodMs },
    ]);
  });

  it("refuses timings that could let two replicas lead at once, naming the setting", () => {
    const elect = (overrides: Partial<typeof timings>) =>
      new LeaderElector({
        lease: server.apiFor("a"),
        name: "test-lease",
        identity: "a",
        ...timings,
        ...overrides,
        onStartedLeading: () => {},
        onStoppedLeading: () => {},
        log: () => {},
      });
    expect(() => elect({ renewDeadlineMs: 15_000 })).to.throw(
      /renewDeadlineMs \(15000\) must be less than leaseDurationSeconds/,
    );
    expect(() => elect({ retryPeriodMs: 10_000 })).to.throw(
      /retryPeriodMs \(10000\) must be less than renewDeadlineMs/,
    );
    expect(() => elect({ requestTimeoutMs: 5_000 })).to.throw(
      /requestTimeoutMs \(5000\) must be less than leaseDurationSeconds - renewDeadlineMs \(5000 ms\)/,
    );
    expect(() => elect({ leaseDurationSeconds: 1.5 })).to.throw(
      /leaseDurationSeconds must be a whole number/,
    );
  });

  describe("observing the Lease", () => {
    const lease = (resourceVersion: string, holderIdentity = "a") => ({
      metadata: { resourceVersion },
      spec: { holderIdentity, leaseDurationSeconds: 15, renewTime: new Date(0) },
    });

    it("keeps the first sighting of an unchanged record and starts again on any change", () => {
      const first = observe(undefined, lease("1"), 100);
      expect(observe(first, lease("1"), 9_000).since).to.equal(100);
      expect(observe(first, lease("2"), 9_000).since, "only the resourceVersion changed").to.equal(9_000);
      expect(observe(first, lease("1", "b"), 9_000)).to.include({ holder: "b", since: 9_000 });
    });

    it("waits out the longer of the holder's lease duration and its own", () => {
      const seen = observe(undefined, lease("1"), 0);
      expect(mayTake(seen, "me", 5_000, 15_000)).to.equal(false);
      expect(mayTake(seen, "me", 20_000, 15_001)).to.equal(false);
      expect(mayTake(seen, "me", 20_000, 20_001)).to.equal(true);
      expect(mayTake(seen, "a", 20_000, 0), "its own Lease").to.equal(true);
      expect(mayTake(observe(undefined, lease("1", ""), 0), "me", 20_000, 0), "a free Lease").to.equal(true);
    });
  });
});
