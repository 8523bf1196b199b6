// Isolating the records Kafka refuses for good, against a fake broker that behaves as Kafka does: a produce
// refused for one partition still appends the others, and a partition batch sent again unchanged by the same
// producer (same sequence numbers) is recognised as a duplicate instead of appended twice.
import { expect } from "chai";
import fc from "fast-check";
import type { OutgoingRecord } from "../../../worker/src/contract/records.ts";
import {
  type IsolationDependencies,
  type Outgoing,
  RefusedForGoodError,
  refusalOf,
  sendIsolatingRefused,
} from "../../../worker/src/output/isolate-refused.ts";
import type { TopicMessages } from "../../../worker/src/output/produce-requests.ts";

interface Item extends Outgoing {
  /** Kafka refuses it (and, when it is a replacement, what replaced it) while this is true. */
  bad: boolean;
  name: string;
  replacement?: Item;
}

/** Per partition, the record batches appended; refuses a batch holding a bad record, the others still append. */
class FakeBroker {
  readonly log = new Map<string, string[][]>();
  sends = 0;
  readonly #partition = new Map<OutgoingRecord, number>();
  readonly #items = new Map<OutgoingRecord, Item>();

  register(item: Item, partition: number): void {
    this.#partition.set(item.record, partition);
    this.#items.set(item.record, item);
  }

  partitionOf = (record: OutgoingRecord) => this.#partition.get(record);

  send = async (topicMessages: TopicMessages[]): Promise<void> => {
    this.sends++;
    let refused = false;
    for (const { topic, messages } of topicMessages) {
      const batches = new Map<number, OutgoingRecord[]>();
      for (const message of messages) {
        const partition = this.partitionOf(message) ?? 0;
        batches.set(partition, [...(batches.get(partition) ?? []), message]);
      }
      for (const [partition, batch] of batches) {
        if (batch.some((record) => this.#items.get(record)?.bad)) {
          refused = true;
          continue;
        }
        const names = batch.map((record) => this.#items.get(record)?.name ?? "?");
        const log = this.log.get(`${topic}/${partition}`) ?? [];
        // The same producer's batch again, unchanged: a duplicate the broker acknowledges without appending.
        if (JSON.stringify(log.at(-1)) !== JSON.stringify(names)) log.push(names);
        this.log.set(`${topic}/${partition}`, log);
      }
    }
    if (refused) {
      throw Object.assign(new Error("Non-retriable"), {
        cause: Object.assign(new Error("too large"), { type: "MESSAGE_TOO_LARGE" }),
      });
    }
  };

  /** Every record name appended, across partitions. */
  appended(): string[] {
    return [...this.log.values()].flat(2);
  }
}

function item(name: string, topic: string, bad: boolean, replacement?: Item): Item {
  const record = { key: name, value: name, headers: {} };
  return replacement === undefined ? { topic, record, bad, name } : { topic, record, bad, name, replacement };
}

function isolation(broker: FakeBroker, replaced: string[] = []): IsolationDependencies<Item> {
  return {
    send: broker.send,
    partitionOf: broker.partitionOf,
    exclusive: (_items, work) => work(),
    replace: (refused: Item, reason: string) => {
      replaced.push(`${refused.name}: ${reason}`);
      if (refused.replacement !== undefined) broker.register(refused.replacement, 0);
      return refused.replacement;
    },
  };
}

describe("refusalOf", () => {
  it("finds a refusal of records anywhere in kafkajs's cause chain, with its type and message", () => {
    const refused = Object.assign(new Error("record too big"), { type: "INVALID_RECORD" });
    expect(refusalOf(new Error("outer", { cause: refused }))).to.equal("INVALID_RECORD: record too big");
    expect(refusalOf(Object.assign(new Error("x"), { type: "RECORD_LIST_TOO_LARGE" }))).to.match(
      /^RECORD_LIST/,
    );
  });
  it("is undefined for failures no single record causes", () => {
    expect(refusalOf(Object.assign(new Error("no"), { type: "TOPIC_AUTHORIZATION_FAILED" }))).to.equal(
      undefined,
    );
    expect(refusalOf(new Error("connection closed"))).to.equal(undefined);
    expect(refusalOf(undefined)).to.equal(undefined);
  });
});

describe("sendIsolatingRefused", () => {
  it("writes every record exactly once and each refused one's replacement, whatever lands where", () => {
    const records = fc.array(
      fc.record({
        topic: fc.constantFrom("res", "dlq"),
        partition: fc.nat(3),
        bad: fc.integer({ min: 0, max: 6 }).map((n) => n === 0),
      }),
      { minLength: 1, maxLength: 80 },
    );
    return fc.assert(
      fc.asyncProperty(records, async (specs) => {
        const broker = new FakeBroker();
        const items = specs.map((spec, i) => {
          const it = item(`r${i}`, spec.topic, spec.bad, spec.bad ? item(`dl${i}`, "dlq", false) : undefined);
          broker.register(it, spec.partition);
          return it;
        });
        const replaced: string[] = [];
        await sendIsolatingRefused(items, isolation(broker, replaced));
        const expected = specs.map((spec, i) => (spec.bad ? `dl${i}` : `r${i}`));
        expect(broker.appended().sort()).to.deep.equal(expected.sort());
        expect(replaced).to.have.length(specs.filter((spec) => spec.bad).length);
      }),
      { seed: 42, numRuns: 100 },
    );
  });

  it("replaces a refused replacement in turn: a response by a dead letter, that by a minimal one", async () => {
    const broker = new FakeBroker();
    const minimal = item("minimal", "dlq", false);
    const response = item("response", "res", true, item("dead-letter", "dlq", true, minimal));
    broker.register(response, 0);
    const replaced: string[] = [];
    await sendIsolatingRefused([response], isolation(broker, replaced));
    expect(broker.appended()).to.deep.equal(["minimal"]);
    expect(replaced).to.deep.equal([
      "response: MESSAGE_TOO_LARGE: too large",
      "dead-letter: MESSAGE_TOO_LARGE: too large",
    ]);
  });

  it("fails, naming the topic and Kafka's reason, when a record without a replacement is refused", async () => {
    const broker = new FakeBroker();
    const good = item("good", "dlq", false);
    const last = item("minimal", "dlq", true);
    broker.register(good, 0);
    broker.register(last, 0);
    const sent = sendIsolatingRefused([good, last], isolation(broker));
    const error = await sent.catch((e: Error) => e);
    expect(error).to.be.instanceOf(RefusedForGoodError);
    expect((error as Error).message).to.match(/topic dlq for good \(MESSAGE_TOO_LARGE: too large\)/);
    expect(broker.appended()).to.deep.equal(["good"], "the rest of the write still goes through");
  });

  it("passes any other failure on at once, without resending", async () => {
    let sends = 0;
    const denied = Object.assign(new Error("denied"), { type: "TOPIC_AUTHORIZATION_FAILED" });
    const sent = sendIsolatingRefused([item("a", "res", false)], {
      send: async () => {
        sends++;
        throw denied;
      },
      partitionOf: () => 0,
      exclusive: (_items, work) => work(),
      replace: () => undefined,
    });
    expect(await sent.catch((e: Error) => e)).to.equal(denied);
    expect(sends).to.equal(1);
  });

  it("costs one send when nothing is refused", async () => {
    const broker = new FakeBroker();
    const items = Array.from({ length: 10 }, (_, i) => item(`r${i}`, "res", false));
    for (const [i, it] of items.entries()) broker.register(it, i % 2);
    await sendIsolatingRefused(items, isolation(broker));
    expect(broker.sends).to.equal(1);
  });
});
