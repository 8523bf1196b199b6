import { expect } from "chai";
import { LeaderElector } from "../../../operator/src/kube/leader-election.ts";
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

interface Candidate {
  identity: string;
  elector: LeaderElector;
  /** Its leadership changes, on the shared manual clock. */
  changes: { leading: boolean; at: number }[];
}

/** [start, end) of each term a candidate led; a term still running ends at Infinity. */
function terms(candidate: Candidate): [number, number][] {
  const result: [number, number][] = [];
  for (const change of candidate.changes) {
    if (change.leading) result.push([change.at, Number.POSITIVE_INFINITY]);
    else {
      const last = result.at(-1);
      if (last !== undefined) last[1] = change.at;
    }
  }
  return result;
}

function expectNeverBothLeading(a: Candidate, b: Candidate): void {
  for (const [aStart, aEnd] of terms(a)) {
    for (const [bStart, bEnd] of terms(b)) {
      expect(
        aEnd <= bStart || bEnd <= aStart,
        `${a.identity} [${aStart}, ${aEnd}) and ${b.identity} [${bStart}, ${bEnd}) overlap`,
      ).to.be.true;
    }
  }
}

describe("operator leader election", () => {
  let timers: ManualTimers;
  let server: FakeLeaseServer;
  let candidates: Candidate[];

  beforeEach(() => {
    timers = new ManualTimers();
    server = new FakeLeaseServer(timers);
    candidates = [];
  });

  afterEach(async () => {
    server.heal();
    const stopped = Promise.all(candidates.map((candidate) => candidate.elector.stop()));
    await timers.advance(timings.retryPeriodMs * 2);
    await stopped;
  });

  /** Starts campaigning with its wall clock `skewMs` off, on a monotonic clock of an origin of its own. */
  function campaign(identity: string, skewMs = 0): Candidate {
    const changes: Candidate["changes"] = [];
    const elector = new LeaderElector({
      lease: server.apiFor(identity),
      name: "test-lease",
      identity,
      ...timings,
      clock: manualElectionClock(timers, skewMs, candidates.length * 7_777_777),
      onStartedLeading: () => changes.push({ leading: true, at: timers.now }),
      onStoppedLeading: () => changes.push({ leading: false, at: timers.now }),
      log: () => {},
    });
    const candidate = { identity, elector, changes };
    candidates.push(candidate);
    void elector.run();
    return candidate;
  }

  it("takes a missing Lease at once and keeps it while it renews", async () => {
    const a = campaign("a");
    await timers.advance(0);
    expect(a.elector.isLeader).to.equal(true);
    await timers.advance(10 * leaseDurationMs);
    expect(a.changes).to.deep.equal([{ leading: true, at: 0 }]);
    expect(server.lease?.spec).to.include({ holderIdentity: "a", leaseTransitions: 0 });
  });

  it("takes a released Lease at once", async () => {
    const a = campaign("a");
    await timers.advance(0);
    await a.elector.stop();
    const b = campaign("b");
    await timers.advance(0);
    expect(b.elector.isLeader).to.equal(true);
    expect(server.lease?.spec).to.include({ holderIdentity: "b", leaseTransitions: 1 });
  });

  for (const skewMs of [3 * hours, -3 * hours]) {
    it(`never takes a Lease its holder keeps renewing, with the candidate's wall clock ${skewMs / hours} h off`, async () => {
      const a = campaign("a");
      await timers.advance(1_000);
      const b = campaign("b", skewMs);
      await timers.advance(10 * leaseDurationMs);
      expect(b.changes).to.deep.equal([]);
      expect(a.changes).to.deep.equal([{ leading: true, at: 0 }]);
      expect(server.lease?.spec?.holderIdentity).to.equal("a");
    });

    it(`takes a Lease whose holder stopped renewing only after leaseDuration of its own observation, with its wall clock ${skewMs / hours} h off`, async () => {
      const a = campaign("a");
      await timers.advance(1_000);
      const b = campaign("b", skewMs);
      await timers.advance(5_000);
      server.set("a", { hung: true });
      const lastRenewal = server.writes.get("a")?.at(-1) ?? Number.NaN;
      await timers.advance(3 * leaseDurationMs);
      const [taken] = b.changes;
      expect(taken?.leading, "b took the Lease").to.equal(true);
      // b saw a's last renewal on its next read, at most a retryPeriod later, and waited leaseDuration from then.
      expect(taken?.at).to.be.greaterThan(lastRenewal + leaseDurationMs);
      expect(taken?.at).to.be.at.most(lastRenewal + leaseDurationMs + 2 * timings.retryPeriodMs);
      expectNeverBothLeading(a, b);
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
    expect(b.changes).to.deep.equal([]);
    await timers.advance(2 * timings.retryPeriodMs);
    expect(b.elector.isLeader).to.equal(true);
    expect(server.lease?.spec).to.include({ holderIdentity: "b", leaseTransitions: 1 });
  });

  it("steps down within renewDeadline of its last good renewal's start when its calls hang, before anyone may take the Lease", async () => {
    const a = campaign("a");
    await timers.advance(0);
    // Slow but successful renewals: the deadline counts from when each began, not from when it was answered.
    server.set("a", { delayMs: 1_500 });
    const b = campaign("b");
    await timers.advance(20_000);
    server.set("a", { hung: true });
    await timers.advance(3 * leaseDurationMs);
    const lastGoodRenewalStart = server.lastGoodRenewalStart("a");
    const stopped = a.changes.find((change) => !change.leading);
    expect(stopped, "a stepped down").to.not.equal(undefined);
    expect(stopped?.at).to.be.at.most(lastGoodRenewalStart + timings.renewDeadlineMs);
    expect(server.pending.get("a"), "a's hung calls were abandoned at their timeout").to.equal(0);
    expect(b.elector.isLeader).to.equal(true);
    expectNeverBothLeading(a, b);
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
});
