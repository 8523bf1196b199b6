import { expect } from "chai";
import { connectProducer } from "../../../worker/src/connect-producer.ts";

class FakeProducer {
  disconnected = false;
  constructor(readonly failWith?: Error & { retriable?: boolean }) {}
  async connect(): Promise<void> {
    if (this.failWith) throw this.failWith;
  }
  async disconnect(): Promise<void> {
    this.disconnected = true;
  }
}

const quickly = { initialBackoffMs: 1, maxBackoffMs: 1 };

const failure = (retriable: boolean) =>
  Object.assign(new Error("Connection error: connect ECONNREFUSED"), { retriable });

describe("connectProducer", () => {
  it("replaces a producer whose connect failed retriably with a fresh one, and disconnects the failed one", async () => {
    const made: FakeProducer[] = [];
    const retries: number[] = [];
    const producer = await connectProducer(
      () => {
        const next = new FakeProducer(made.length < 2 ? failure(true) : undefined);
        made.push(next);
        return next;
      },
      { attempts: 5, backoff: quickly, onRetry: (_error, attempt) => retries.push(attempt) },
    );
    expect(made).to.have.length(3);
    expect(producer).to.equal(made[2]);
    expect(made.map((p) => p.disconnected)).to.deep.equal([true, true, false]);
    expect(retries).to.deep.equal([1, 2]);
  });

  for (const [title, retriable, expectedAttempts] of [
    ["gives up at once on a failure that is not retriable", false, 1],
    ["gives up after the last attempt with the last error", true, 3],
  ] as const) {
    it(title, async () => {
      let made = 0;
      const attempt = connectProducer(
        () => {
          made++;
          return new FakeProducer(failure(retriable));
        },
        { attempts: 3, backoff: quickly, onRetry: () => {} },
      );
      await attempt.then(
        () => expect.fail("connected"),
        (error: Error) => expect(error.message).to.match(/ECONNREFUSED/),
      );
      expect(made).to.equal(expectedAttempts);
    });
  }
});
