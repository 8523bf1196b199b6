import { expect } from "chai";
import { BackPressure, fetchAheadLimit } from "../../../worker/src/consume/back-pressure.ts";
import { ManualTimers, settle } from "./manual-timers.ts";

const heartbeatIntervalMs = 3_000;

function setUp() {
  const timers = new ManualTimers();
  const state = { full: false };
  const backPressure = new BackPressure(() => state.full, heartbeatIntervalMs, timers.schedule);
  let heartbeats = 0;
  let returned = false;
  const wait = () =>
    backPressure
      .waitForRoom(async () => {
        heartbeats++;
      })
      .then(() => {
        returned = true;
      });
  return { timers, state, backPressure, wait, heartbeats: () => heartbeats, returned: () => returned };
}

describe("fetchAheadLimit", () => {
  it("holds at least 1024 messages, and four batches per model thread when that is more", () => {
    expect(fetchAheadLimit(64, 1)).to.equal(1024);
    expect(fetchAheadLimit(512, 2)).to.equal(4096);
  });
});

describe("BackPressure", () => {
  it("heartbeats once and returns at once when there is room", async () => {
    const { wait, heartbeats, returned } = setUp();
    await wait();
    expect([heartbeats(), returned()]).to.deep.equal([1, true]);
  });

  it("heartbeats every interval while there is no room, and returns when woken with room", async () => {
    const { timers, state, backPressure, wait, heartbeats, returned } = setUp();
    state.full = true;
    void wait();
    await timers.advance(heartbeatIntervalMs * 3);
    expect([heartbeats(), returned()]).to.deep.equal([4, false]);
    state.full = false;
    backPressure.wake();
    await settle();
    expect([heartbeats(), returned()]).to.deep.equal([5, true]);
    expect(timers.pending).to.deep.equal([], "a woken wait leaves no timer behind");
  });

  it("a wake without room makes a waiter heartbeat and wait again", async () => {
    const { state, backPressure, wait, heartbeats, returned } = setUp();
    state.full = true;
    void wait();
    await settle();
    backPressure.wake();
    await settle();
    expect([heartbeats(), returned()]).to.deep.equal([2, false]);
  });
});
