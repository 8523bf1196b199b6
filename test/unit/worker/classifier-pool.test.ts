import { expect } from "chai";
import { leastBusy } from "../../../worker/src/model/classifier-pool.ts";

describe("leastBusy", () => {
  it("picks the thread with the fewest outstanding batches", () => {
    expect(leastBusy([2, 0, 1])).to.equal(1);
    expect(leastBusy([3, 2, 1])).to.equal(2);
  });
  it("picks the first on a tie, so one batch at a time always goes to the same thread", () => {
    expect(leastBusy([0, 0])).to.equal(0);
    expect(leastBusy([1, 1, 1])).to.equal(0);
  });
});
