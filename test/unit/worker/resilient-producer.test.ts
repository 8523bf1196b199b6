import { expect } from "chai";
import type {
  Message,
  PartitionMetadata,
  Producer,
  ProducerBatch,
  ProducerConfig,
  RecordMetadata,
} from "kafkajs";
import { ResilientProducer } from "../../../worker/src/resilient-producer.ts";

const stateError = () =>
  Object.assign(new Error("The broker received an out of order sequence number"), {
    type: "OUT_OF_ORDER_SEQUENCE_NUMBER",
  });

/** `partitions` partitions, partition i led by node i % 3. */
const partitionMetadata = (partitions: number) =>
  Array.from(
    { length: partitions },
    (_, partitionId): PartitionMetadata => ({
      partitionId,
      leader: partitionId % 3,
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
 * answers each send with `answer` (the partitions of topic "out" it acknowledges, results of its own, or an error
 * to throw).
 */
function fakeProducer(
  config: ProducerConfig,
  answers: ((sent: Map<number, Message[]>) => (number | RecordMetadata)[])[],
  partitions = 8,
) {
  const partitioner = (config.createPartitioner as NonNullable<ProducerConfig["createPartitioner"]>)();
  const fake = { sends: [] as Map<number, Message[]>[], disconnected: false };
  const producer = {
    sendBatch: async ({ topicMessages = [] }: ProducerBatch) => {
      const sent = new Map<number, Message[]>();
      for (const { topic, messages } of topicMessages) {
        for (const message of messages) {
          const partition = partitioner({ topic, partitionMetadata: partitionMetadata(partitions), message });
          sent.set(partition, [...(sent.get(partition) ?? []), message]);
        }
      }
      fake.sends.push(sent);
      const answer = answers.shift() ?? ((all) => [...all.keys()]);
      return answer(sent).map((result) => (typeof result === "number" ? metadata("out", result) : result));
    },
    disconnect: async () => {
      fake.disconnected = true;
    },
  } as unknown as Producer;
  return { fake, producer };
}

const quickly = { initialBackoffMs: 1, maxBackoffMs: 1 };
const ignore = () => {};

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

  it("counts a partition acknowledged only by a result for its own topic without an error code", async () => {
    let made: ReturnType<typeof fakeProducer> | undefined;
    const response: Message = { value: "response" };
    const deadLetter: Message = { value: "dead letter" };
    const producer = await ResilientProducer.start({
      connect: async (config) => {
        // One partition per topic; the first send's dead-letter partition answers NOT_LEADER_FOR_PARTITION.
        made = fakeProducer(
          config,
          [
            () => [metadata("responses", 0), { ...metadata("dead-letter", 0), errorCode: 6 }],
            () => [metadata("dead-letter", 0)],
          ],
          1,
        );
        return made.producer;
      },
      backoff: quickly,
      onResend: ignore,
      onReplace: () => expect.fail("replaced"),
    });
    await producer.sendBatch({
      topicMessages: [
        { topic: "responses", messages: [response] },
        { topic: "dead-letter", messages: [deadLetter] },
      ],
    });
    expect(made?.fake.sends.map((sent) => sent.get(0))).to.deep.equal([[response, deadLetter], [deadLetter]]);
  });

  it("sends again a message kafkajs never gave a partition, whatever the results say", async () => {
    const sends: number[] = [];
    const resent: number[] = [];
    const producer = await ResilientProducer.start({
      connect: async (config) => {
        const partitioner = (config.createPartitioner as NonNullable<ProducerConfig["createPartitioner"]>)();
        return {
          // The first try answers for partition 0 without placing the message; the second places it there.
          sendBatch: async ({ topicMessages = [] }: ProducerBatch) => {
            sends.push(sends.length);
            if (sends.length > 1) {
              for (const { topic, messages } of topicMessages) {
                for (const message of messages)
                  partitioner({ topic, partitionMetadata: partitionMetadata(1), message });
              }
            }
            return [metadata("t", 0)];
          },
          disconnect: async () => {},
        } as unknown as Producer;
      },
      backoff: quickly,
      onResend: (messages) => resent.push(messages),
      onReplace: () => expect.fail("replaced"),
    });
    await producer.sendBatch({ topicMessages: [{ topic: "t", messages: [{ value: "x" }] }] });
    expect([sends.length, resent]).to.deep.equal([2, [1]]);
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

  it("places a message where its send then puts it, with that partition's leader, once a send showed the topic", async () => {
    let made: ReturnType<typeof fakeProducer> | undefined;
    const producer = await ResilientProducer.start({
      connect: async (config) => {
        made = fakeProducer(config, []);
        return made.producer;
      },
      backoff: quickly,
      onResend: ignore,
      onReplace: () => expect.fail("replaced"),
    });
    const message = { value: "unkeyed" };
    expect(producer.place("out", message), "before any send to the topic").to.equal(undefined);
    await producer.sendBatch({ topicMessages: [{ topic: "out", messages: [{ value: "first" }] }] });

    const placement = producer.place("out", message);
    await producer.sendBatch({ topicMessages: [{ topic: "out", messages: [message] }] });
    const [partition] = made?.fake.sends.at(-1)?.keys() ?? [];
    expect(placement).to.deep.equal({ partition, leader: (partition ?? 0) % 3 });
  });

  it("replaces the producer once when concurrent sends lose its state together, and every send goes on with the new one", async () => {
    const made: ReturnType<typeof fakeProducer>[] = [];
    const replaced: string[] = [];
    const producer = await ResilientProducer.start({
      connect: async (config) => {
        const fail = () => {
          throw stateError();
        };
        made.push(fakeProducer(config, made.length === 0 ? [fail, fail] : []));
        return (made.at(-1) as (typeof made)[0]).producer;
      },
      backoff: quickly,
      onResend: ignore,
      onReplace: (error) => replaced.push(error.message),
    });
    await Promise.all([
      producer.sendBatch({ topicMessages: [{ topic: "out", messages: [{ key: "a", value: "x" }] }] }),
      producer.sendBatch({ topicMessages: [{ topic: "out", messages: [{ key: "b", value: "y" }] }] }),
    ]);
    expect(replaced).to.have.length(1);
    expect(made.map(({ fake }) => [fake.sends.length, fake.disconnected])).to.deep.equal([
      [2, true],
      [2, false],
    ]);
  });

  it("sends again with the new producer what failed on the one another send replaced meanwhile", async () => {
    const made: ReturnType<typeof fakeProducer>[] = [];
    let failInFlight: (error: Error) => void = () => {};
    const producer = await ResilientProducer.start({
      connect: async (config) => {
        if (made.length > 0) {
          made.push(fakeProducer(config, []));
          return (made.at(-1) as (typeof made)[0]).producer;
        }
        // The first producer: one send stays in flight until its producer is disconnected, the other loses
        // the producer's state.
        const first = fakeProducer(config, [
          () => {
            throw stateError();
          },
        ]);
        const { sendBatch, disconnect } = first.producer;
        let sends = 0;
        first.producer.sendBatch = (batch) =>
          ++sends === 1
            ? new Promise((_, reject) => {
                failInFlight = reject;
              })
            : sendBatch(batch);
        first.producer.disconnect = async () => {
          failInFlight(new Error("the producer is disconnected"));
          await disconnect();
        };
        made.push(first);
        return first.producer;
      },
      backoff: quickly,
      onResend: ignore,
      onReplace: ignore,
    });
    const inFlight = producer.sendBatch({
      topicMessages: [{ topic: "out", messages: [{ key: "a", value: "x" }] }],
    });
    await producer.sendBatch({ topicMessages: [{ topic: "out", messages: [{ key: "b", value: "y" }] }] });
    await inFlight;
    expect(made).to.have.length(2);
    expect(
      [...(made[1]?.fake.sends ?? [])].flatMap((sent) => [...sent.values()].flat().map((m) => m.key)),
    ).to.have.members(["a", "b"]);
  });
});
