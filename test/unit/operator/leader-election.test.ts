import { expect } from "chai";
import { canAcquire } from "../../../operator/src/kube/leader-election.ts";

describe("operator leader election", () => {
  const now = Date.parse("2026-11-29T05:00:00Z");
  const lease = (holderIdentity: string, renewedSecondsAgo: number) => ({
    spec: { holderIdentity, leaseDurationSeconds: 15, renewTime: new Date(now - renewedSecondsAgo * 1000) },
  });

  it("takes a missing or released Lease", () => {
    expect(canAcquire(undefined, "me", now)).to.equal(true);
    expect(canAcquire(lease("", 1), "me", now)).to.equal(true);
  });

  it("keeps its own Lease", () => {
    expect(canAcquire(lease("me", 1), "me", now)).to.equal(true);
  });

  it("leaves another holder's Lease alone until it expires", () => {
    expect(canAcquire(lease("other", 14), "me", now)).to.equal(false);
    expect(canAcquire(lease("other", 16), "me", now)).to.equal(true);
  });
});
