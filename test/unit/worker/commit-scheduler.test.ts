import { expect } from "chai";
import winston from "winston";
import { CommitScheduler } from "../../../worker/src/offsets/commit-scheduler.ts";
import { CommitTracker, type OffsetToCommit } from "../../../worker/src/offsets/commit-tracker.ts";
import { ManualTimers, settle } from "./manual-timers.ts";

const logger = winston.createLogger({ silent: true });

/** A scheduler over a real tracker, whose commit requests wait until the test answers them. */
function setUp() {
  const timers = new ManualTimers();
  const tracker = new CommitTracker();
  const requests: { offsets: string[]; answer: (error?: Error) => void }[] = [];
  const commitOffsets = (offsets: OffsetToCommit[]) =>
    new Promise<void>((resolve, reject) => {
      requests.push({
        offsets: offsets.map(({ partition, offset }) => `${partition}@${offset}`),
        answer: (error) => (error === undefined ? resolve() : reject(error)),
      });
    });
  const scheduler = new CommitScheduler({ tracker, commitOffsets, logger, schedule: timers.schedule });
  const acknowledge = (partition: number, lastOffset: string) => {
    tracker.acknowledge(tracker.track("req", partition, lastOffset, 1));
    scheduler.soon();
  };
  return { timers, tracker, requests, scheduler, acknowledge };
}

describe("CommitScheduler", () => {
  it("commits nothing at an acknowledgement, and everything acknowledged meanwhile in one request when the timer fires", async () => {
    const { timers, requests, acknowledge } = setUp();
    acknowledge(0, "4");
    acknowledge(1, "9");
    await settle();
    expect(requests).to.have.length(0);
    expect(timers.pending).to.have.length(1, "acknowledgements close together share one timer");
    await timers.advance(timers.pending[0] as number);
    expect(requests.map((r) => r.offsets)).to.deep.equal([["0@5", "1@10"]]);
  });

  it("keeps one commit request in flight: what is acknowledged meanwhile goes out in the next", async () => {
    const { timers, requests, acknowledge } = setUp();
    acknowledge(0, "4");
    await timers.advance(timers.pending[0] as number);
    acknowledge(0, "8");
    await timers.advance(timers.pending[0] as number);
    expect(requests).to.have.length(1, "the second waits for the first to be answered");
    requests[0]?.answer();
    await settle();
    expect(requests.map((r) => r.offsets)).to.deep.equal([["0@5"], ["0@9"]]);
  });

  it("tries a failed commit again with the next acknowledgement", async () => {
    const { timers, requests, acknowledge } = setUp();
    acknowledge(0, "4");
    await timers.advance(timers.pending[0] as number);
    requests[0]?.answer(new Error("coordinator moved"));
    await settle();
    acknowledge(1, "0");
    await timers.advance(timers.pending[0] as number);
    expect(requests.map((r) => r.offsets)).to.deep.equal([["0@5"], ["0@5", "1@1"]]);
  });

  it("flush commits at once, cancels the timer, and resolves only when nothing due is left", async () => {
    const { timers, requests, acknowledge, scheduler } = setUp();
    acknowledge(0, "4");
    let flushed = false;
    const flushing = scheduler.flush().then(() => {
      flushed = true;
    });
    await settle();
    expect(requests.map((r) => r.offsets)).to.deep.equal([["0@5"]]);
    expect(timers.pending).to.deep.equal([]);
    expect(flushed).to.equal(false);
    requests[0]?.answer();
    await flushing;
    await timers.advance(1_000);
    expect(requests).to.have.length(1, "nothing is committed twice");
  });
});
