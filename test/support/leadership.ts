// Who led when: each elector's leadership changes on one clock, and the check that no two terms overlap. Ordering
// only: the times are compared with each other, never with a bound.
import { expect } from "chai";

interface Change {
  identity: string;
  leading: boolean;
  at: number;
}

export class LeadershipLog {
  readonly changes: Change[] = [];

  constructor(private readonly now: () => number) {}

  /** The callbacks that write `identity`'s changes into this log. */
  callbacksFor(identity: string): { onStartedLeading: () => void; onStoppedLeading: () => void } {
    return {
      onStartedLeading: () => this.changes.push({ identity, leading: true, at: this.now() }),
      onStoppedLeading: () => this.changes.push({ identity, leading: false, at: this.now() }),
    };
  }

  of(identity: string): { leading: boolean; at: number }[] {
    return this.changes
      .filter((change) => change.identity === identity)
      .map(({ leading, at }) => ({ leading, at }));
  }

  /** [start, end) of each term `identity` led; a term still running ends at Infinity. */
  terms(identity: string): [number, number][] {
    const terms: [number, number][] = [];
    for (const change of this.of(identity)) {
      if (change.leading) terms.push([change.at, Number.POSITIVE_INFINITY]);
      else {
        const last = terms.at(-1);
        if (last !== undefined) last[1] = change.at;
      }
    }
    return terms;
  }

  expectNeverBothLeading(a: string, b: string): void {
    for (const [aStart, aEnd] of this.terms(a)) {
      for (const [bStart, bEnd] of this.terms(b)) {
        expect(
          aEnd <= bStart || bEnd <= aStart,
          `${a} led [${aStart}, ${aEnd}) and ${b} led [${bStart}, ${bEnd})`,
        ).to.be.true;
      }
    }
  }
}
