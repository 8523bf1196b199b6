import { expect } from "chai";
import type {
  Message,
  PartitionMetadata,
  Producer,
  ProducerBatch,
  ProducerConfig,
  RecordMetadata,
} from "kafkajs";
import { ResilientProducer, unacknowledged } from "../../../worker/src/resilient-producer.ts";

const stateError = () =>
  Object.assign(new Error("The broker received an out of order sequence number"), {
    type: "OUT_OF_ORDER_SEQUENCE_NUMBER",
  });

const partitionMetadata = Array.from(
  { length: 8 },
  (_, partitionId): PartitionMetadata => ({
    partitionId,
    leader: 0,
    replicas: [0],
    isr: [0],
    partitionErrorCode: 0,
  }),
);

const metadata = (topicName: string, partition: number): RecordMetadata => ({
  topicName,
  partition,
  errorCode: 0,
});

/**
 * A producer that places every message with the partitioner its config makes, as kafkajs does on each try, and
 * answers each send with `answer` (the partitions it acknowledges, or an error to throw).
 */
function fakeProducer(config: ProducerConfig, answers: ((sent: Map<number, Message[]>) => number[])[]) {
  const partitioner = (config.createPartitioner as NonNullable<ProducerConfig["createPartitioner"]>)();
  const fake = { sends: [] as Map<number, Message[]>[], disconnected: false };
  const producer = {
    sendBatch: async ({ topicMessages = [] }: ProducerBatch) => {
      const sent = new Map<number, Message[]>();
      for (const { topic, messages } of topicMessages) {
        for (const message of messages) {
          const partition = partitioner({ topic, partitionMetadata, message });
          sent.set(partition, [...(sent.get(partition) ?? []), message]);
        }
      }
      fake.sends.push(sent);
      const answer = answers.shift() ?? ((all) => [...all.keys()]);
      return answer(sent).map((partition) => metadata("out", partition));
    },
    disconnect: async () => {
      fake.disconnected = true;
    },
  } as unknown as Producer;
  return { fake, producer };
}

const quickly = { initialBackoffMs: 1, maxBackoffMs: 1 };
const ignore = () => {};

describe("unacknowledged", () => {
  it("keeps the messages whose partition no result acknowledges, topic by topic", () => {
    const a: Message = { value: "a" };
    const b: Message = { value: "b" };
    const c: Message = { value: "c" };
    const partitions = new Map<Message, number>([
      [a, 0],
      [b, 1],
      [c, 0],
    ]);
    const left = unacknowledged(
      [
        { topic: "responses", messages: [a, b] },
        { topic: "dead-letter", messages: [c] },
      ],
      [metadata("responses", 0), metadata("dead-letter", 1), { ...metadata("dead-letter", 0), errorCode: 6 }],
      (message) => partitions.get(message),
    );
    expect(left).to.deep.equal([
      { topic: "responses", messages: [b] },
      { topic: "dead-letter", messages: [c] },
    ]);
  });

  it("keeps a message that was never given a partition", () => {
    const left = unacknowledged(
      [{ topic: "t", messages: [{ value: "x" }] }],
      [metadata("t", 0)],
      () => undefined,
    );
    expect(left).to.have.length(1);
  });
});

describe("ResilientProducer", () => {
  it("sends again, on the same partitions, the records of partitions a send did not acknowledge", async () => {
    let made: ReturnType<typeof fakeProducer> | undefined;
    const resent: number[] = [];
    const producer = await ResilientProducer.start({
      connect: async (config) => {
        // The first send acknowledges all but the partitions with an even number: kafkajs's skipped broker.
        made = fakeProducer(config, [(sent) => [...sent.keys()].filter((partition) => partition % 2 === 1)]);
        return made.producer;
      },
      backoff: quickly,
      onResend: (messages) => resent.push(messages),
      onReplace: () => expect.fail("replaced"),
    });
    // Unkeyed messages: kafkajs's default partitioner would spread them afresh on every try.
    const messages = Array.from({ length: 16 }, (_, i) => ({ value: `m${i}` }));
    const results = await producer.sendBatch({ topicMessages: [{ topic: "out", messages }] });

    const [first, second] = made?.fake.sends ?? [];
    const leftOut = [...(first?.entries() ?? [])].filter(([partition]) => partition % 2 === 0);
    expect(leftOut.length).to.be.greaterThan(0);
    expect(
      second,
      "the resend carries exactly the left-out records, each on its first partition",
    ).to.deep.equal(new Map(leftOut));
    expect(resent).to.deep.equal([leftOut.flatMap(([, left]) => left).length]);
    expect(made?.fake.sends).to.have.length(2);
    expect(new Set(results.map((r) => r.partition)).size).to.equal(first?.size);
  });

  it("replaces a producer whose sequence numbers the broker refuses, and resends the batch with the new one", async () => {
    const made: ReturnType<typeof fakeProducer>[] = [];
    const replaced: string[] = [];
    const producer = await ResilientProducer.start({
      connect: async (config) => {
        const first = made.length === 0;
        made.push(
          fakeProducer(
            config,
            first
              ? [
                  () => {
                    throw stateError();
                  },
                ]
              : [],
          ),
        );
        return (made.at(-1) as (typeof made)[0]).producer;
      },
      backoff: quickly,
      onResend: ignore,
      onReplace: (error) => replaced.push(error.message),
    });
    await producer.sendBatch({ topicMessages: [{ topic: "out", messages: [{ key: "k", value: "x" }] }] });
    expect(replaced).to.deep.equal(["The broker received an out of order sequence number"]);
    expect(made.map(({ fake }) => [fake.sends.length, fake.disconnected])).to.deep.equal([
      [1, true],
      [1, false],
    ]);
  });

  it("passes any other failure on without replacing the producer", async () => {
    let connects = 0;
    const producer = await ResilientProducer.start({
      connect: async (config) => {
        connects++;
        return fakeProducer(config, [
          () => {
            throw Object.assign(new Error("too large"), { type: "MESSAGE_TOO_LARGE" });
          },
        ]).producer;
      },
      backoff: quickly,
      onResend: ignore,
      onReplace: () => expect.fail("replaced"),
    });
    await producer.sendBatch({ topicMessages: [{ topic: "out", messages: [{ value: "x" }] }] }).then(
      () => expect.fail("sent"),
      (error: Error) => expect(error.message).to.equal("too large"),
    );
    expect(connects).to.equal(1);
  });
});
