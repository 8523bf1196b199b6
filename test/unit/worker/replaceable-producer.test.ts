import { expect } from "chai";
import type { Producer, ProducerBatch } from "kafkajs";
import { ReplaceableProducer } from "../../../worker/src/replaceable-producer.ts";

const stateError = () =>
  Object.assign(new Error("The broker received an out of order sequence number"), {
    type: "OUT_OF_ORDER_SEQUENCE_NUMBER",
  });

/** A producer that fails its first `failures` sends with `error`, recording what it sent. */
function fakeProducer(failures: number, error: () => Error) {
  const fake = { sent: 0, failed: 0, disconnected: false };
  const producer = {
    sendBatch: async () => {
      if (fake.failed < failures) {
        fake.failed++;
        throw error();
      }
      fake.sent++;
      return [];
    },
    disconnect: async () => {
      fake.disconnected = true;
    },
  } as unknown as Producer;
  return { fake, producer };
}

const batch: ProducerBatch = { topicMessages: [{ topic: "out", messages: [{ value: "x" }] }] };

describe("ReplaceableProducer", () => {
  it("replaces a producer whose sequence numbers the broker refuses, and resends the batch with the new one", async () => {
    const first = fakeProducer(1, stateError);
    const second = fakeProducer(0, stateError);
    const made = [first, second];
    const replaced: string[] = [];
    const producer = await ReplaceableProducer.start(
      async () => (made.shift() as (typeof made)[0]).producer,
      (error) => replaced.push(error.message),
    );
    await producer.sendBatch(batch);
    expect(replaced).to.deep.equal(["The broker received an out of order sequence number"]);
    expect(first.fake.disconnected).to.equal(true);
    expect(second.fake.sent).to.equal(1);
  });

  it("passes any other failure on without replacing the producer", async () => {
    const only = fakeProducer(1, () => Object.assign(new Error("too large"), { type: "MESSAGE_TOO_LARGE" }));
    let connects = 0;
    const producer = await ReplaceableProducer.start(
      async () => {
        connects++;
        return only.producer;
      },
      () => expect.fail("replaced"),
    );
    await producer.sendBatch(batch).then(
      () => expect.fail("sent"),
      (error: Error) => expect(error.message).to.equal("too large"),
    );
    expect(connects).to.equal(1);
  });
});
