import { expect } from "chai";
import { type Destination, LaneWriter } from "../../../worker/src/output/lanes.ts";

/** Lets every pending promise callback and setImmediate run. */
const turn = () => new Promise((resolve) => setImmediate(resolve));

/** An item bound for partition `partition` led by node `leader`. */
const to = (name: string, partition: number, leader: number) => ({
  item: name,
  destination: { partition: String(partition), leader } satisfies Destination,
});

/** A LaneWriter whose writes are recorded, and held until released while `holds` says so. */
function writer(holds: (items: string[]) => boolean) {
  const writes: string[][] = [];
  const held: (() => void)[] = [];
  const lanes = new LaneWriter<string>(async (items) => {
    writes.push(items);
    if (holds(items)) await new Promise<void>((resolve) => held.push(resolve));
  });
  const release = () => {
    for (const resolve of held.splice(0)) resolve();
  };
  return { lanes, writes, release };
}

/** Tracks whether a promise has settled, and how. */
function watch(promise: Promise<void>) {
  const state = { settled: "pending" as "pending" | "resolved" | "rejected" };
  promise.then(
    () => (state.settled = "resolved"),
    () => (state.settled = "rejected"),
  );
  return state;
}

describe("LaneWriter", () => {
  it("holds only the submissions with records for a leader whose write does not return", async () => {
    // Node 2 is cut off: any write with a record for it waits.
    const { lanes, writes, release } = writer((items) => items.some((item) => item.startsWith("cut")));
    const reachable = watch(lanes.submit([to("a0", 0, 0), to("a1", 1, 1)]));
    const mixed = watch(lanes.submit([to("cut-b2", 2, 2), to("b0", 0, 0)]));
    await turn();
    const later = watch(lanes.submit([to("c1", 1, 1), to("c0", 0, 0)]));
    await turn();
    await turn();
    expect([reachable.settled, mixed.settled, later.settled]).to.deep.equal([
      "resolved",
      "pending",
      "resolved",
    ]);
    expect(writes).to.deep.include.members([["a0", "b0"], ["a1"], ["cut-b2"], ["c1"], ["c0"]]);

    release();
    await turn();
    expect(mixed.settled).to.equal("resolved");
  });

  it("keeps a partition in the lane of its records still in flight after its leader moved, then follows the leader", async () => {
    const { lanes, writes, release } = writer((items) => items.includes("first"));
    const first = watch(lanes.submit([to("first", 5, 2)]));
    await turn();
    // Partition 5 now led by node 1: its next record waits behind the first rather than racing it.
    const moved = watch(lanes.submit([to("moved", 5, 1), to("other", 6, 1)]));
    await turn();
    await turn();
    expect(writes).to.deep.equal([["first"], ["other"]]);
    expect([first.settled, moved.settled]).to.deep.equal(["pending", "pending"]);

    release();
    await turn();
    await turn();
    expect(writes).to.deep.equal([["first"], ["other"], ["moved"]]);
    expect(moved.settled).to.equal("resolved");
    // Nothing of partition 5 in flight any more: it takes its new leader's lane, shared with partition 6's.
    const next = watch(lanes.submit([to("next5", 5, 1), to("next6", 6, 1)]));
    await turn();
    await turn();
    expect(writes.at(-1)).to.deep.equal(["next5", "next6"]);
    expect(next.settled).to.equal("resolved");
  });

  it("writes records with no destination yet in one lane of their own", async () => {
    const { lanes, writes, release } = writer((items) => items.includes("unplaced"));
    const unplaced = watch(lanes.submit([{ item: "unplaced", destination: undefined }]));
    const placed = watch(lanes.submit([to("placed", 0, 0)]));
    await turn();
    await turn();
    expect([unplaced.settled, placed.settled]).to.deep.equal(["pending", "resolved"]);
    release();
    await turn();
    expect(writes).to.deep.equal([["unplaced"], ["placed"]]);
  });

  it("rejects the submissions a failed write held, and not the others", async () => {
    const lanes = new LaneWriter<string>(async (items) => {
      if (items.includes("refused")) throw new Error("refused");
    });
    const failed = lanes.submit([to("refused", 0, 0), to("fine", 1, 1)]);
    const other = lanes.submit([to("alone", 2, 1)]);
    await failed.then(
      () => expect.fail("written"),
      (error: Error) => expect(error.message).to.equal("refused"),
    );
    await other;
  });
});
