import { expect } from "chai";
import { fastest } from "../../../hack/bench/rounds.ts";
import { HarnessError, positiveWhole } from "../../../hack/harness/cli.ts";

describe("bench rounds", () => {
  it("takes the fastest round with its own CPU split, whichever round it was", () => {
    const slow = { rate: 37_975, cpu: undefined };
    const quick = { rate: 49_044, cpu: undefined };
    expect(fastest([slow, quick])).to.equal(quick);
    expect(fastest([quick, slow])).to.equal(quick);
    expect(fastest([slow])).to.equal(slow);
  });

  it("refuses to choose among no rounds", () => {
    expect(() => fastest([])).to.throw(RangeError, "no rounds");
  });

  it("reads a positive whole number, or the fallback when it is unset", () => {
    expect(positiveWhole("BENCH_ROUNDS", "3", 2)).to.equal(3);
    expect(positiveWhole("BENCH_ROUNDS", undefined, 2)).to.equal(2);
    expect(positiveWhole("BENCH_ROUNDS", "", 2)).to.equal(2);
  });

  for (const bad of ["0", "-1", "2.5", "two", "02"]) {
    it(`refuses ${JSON.stringify(bad)}, naming the setting`, () => {
      expect(() => positiveWhole("BENCH_ROUNDS", bad, 2)).to.throw(
        HarnessError,
        `BENCH_ROUNDS takes a positive whole number, got '${bad}'`,
      );
    });
  }
});
