// Grouping a batch into runs of similar length: every row exactly once, and the cheapest split under the cost
// model (a fixed cost per run plus every padded token), checked against brute force on small batches.
import { expect } from "chai";
import { groupByLength } from "../../../worker/src/model/length-groups.ts";

function costOf(groups: number[][], lengths: number[], runCost: number): number {
  return groups.reduce(
    (sum, group) => sum + runCost + group.length * Math.max(...group.map((i) => lengths[i] as number)),
    0,
  );
}

/** The cheapest cost over every split of the rows, sorted by length, into contiguous runs. */
function bruteForceCost(lengths: number[], runCost: number): number {
  const sorted = [...lengths].sort((a, b) => a - b);
  let best = Number.POSITIVE_INFINITY;
  for (let cuts = 0; cuts < 2 ** Math.max(0, sorted.length - 1); cuts++) {
    let cost = 0;
    let start = 0;
    for (let i = 1; i <= sorted.length; i++) {
      if (i === sorted.length || cuts & (1 << (i - 1))) {
        cost += runCost + (i - start) * (sorted[i - 1] as number);
        start = i;
      }
    }
    best = Math.min(best, cost);
  }
  return best;
}

describe("groupByLength", () => {
  it("gives no groups for no rows", () => {
    expect(groupByLength([], 100)).to.deep.equal([]);
  });

  it("keeps rows of one length in one run, whatever a run costs", () => {
    expect(groupByLength([7, 7, 7], 0)).to.deep.equal([[0, 1, 2]]);
  });

  it("parts short rows from long ones when the padding saved outweighs a run", () => {
    // One run: 100 + 5 × 61 = 405 tokens; two: 100 + 3 × 5 + 100 + 2 × 61 = 337.
    expect(groupByLength([5, 60, 5, 5, 61], 100)).to.deep.equal([
      [0, 2, 3],
      [1, 4],
    ]);
    expect(groupByLength([5, 60, 5, 5, 61], 1000)).to.deep.equal([[0, 2, 3, 1, 4]]);
  });

  it("runs each distinct length alone when runs cost nothing", () => {
    expect(groupByLength([3, 1, 2, 1], 0)).to.deep.equal([[1, 3], [2], [0]]);
  });

  it("covers every row once and finds the cheapest split on random batches", () => {
    let seed = 42;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    for (let trial = 0; trial < 300; trial++) {
      const lengths = Array.from(
        { length: 1 + Math.floor(random() * 10) },
        () => 1 + Math.floor(random() * 128),
      );
      const runCost = Math.floor(random() * 300);
      const groups = groupByLength(lengths, runCost);
      expect(
        groups.flat().sort((a, b) => a - b),
        `${lengths}`,
      ).to.deep.equal(lengths.map((_, i) => i));
      expect(costOf(groups, lengths, runCost), `${lengths} at ${runCost}`).to.equal(
        bruteForceCost(lengths, runCost),
      );
    }
  });

  it("refuses a negative or missing run cost", () => {
    expect(() => groupByLength([1], -1)).to.throw(RangeError, /runCostInTokens/);
    expect(() => groupByLength([1], Number.NaN)).to.throw(RangeError, /runCostInTokens/);
  });
});
