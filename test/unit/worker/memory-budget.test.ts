import { expect } from "chai";
import { fetchBudget, parseCgroupLimit, recordBytes } from "../../../worker/src/consume/memory-budget.ts";

const MiB = 1024 * 1024;

describe("memory budget", () => {
  it("reads a cgroup limit, and no limit from cgroup v2's 'max' or v1's near-2^63 value", () => {
    expect(parseCgroupLimit("536870912\n")).to.equal(512 * MiB);
    expect(parseCgroupLimit("max\n")).to.equal(undefined);
    expect(parseCgroupLimit("9223372036854771712\n")).to.equal(undefined);
    expect(parseCgroupLimit(undefined)).to.equal(undefined);
  });

  it("holds an eighth of the smaller of the container and heap limits, and fetches a quarter of that", () => {
    expect(fetchBudget(0, MiB, { container: 512 * MiB, heap: 2048 * MiB })).to.deep.equal({
      inFlightBytes: 64 * MiB,
      maxBytes: 10 * MiB,
      maxBytesPerPartition: MiB,
    });
    expect(fetchBudget(0, MiB, { heap: 160 * MiB })).to.deep.equal({
      inFlightBytes: 20 * MiB,
      maxBytes: 5 * MiB,
      maxBytesPerPartition: MiB,
    });
  });

  it("takes a configured budget as given, but never less than one record of MAX_MESSAGE_BYTES", () => {
    expect(fetchBudget(8 * MiB, MiB, { heap: 4096 * MiB })).to.deep.equal({
      inFlightBytes: 8 * MiB,
      maxBytes: 2 * MiB,
      maxBytesPerPartition: MiB,
    });
    expect(fetchBudget(1000, 4 * MiB, { heap: 4096 * MiB })).to.deep.equal({
      inFlightBytes: 4 * MiB,
      maxBytes: 4 * MiB,
      maxBytesPerPartition: 4 * MiB,
    });
  });

  it("counts a record's key and value", () => {
    expect(recordBytes({ key: Buffer.from("abc"), value: Buffer.alloc(10) })).to.equal(13);
    expect(recordBytes({ key: null, value: null })).to.equal(0);
  });
});
