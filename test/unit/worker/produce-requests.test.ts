import { expect } from "chai";
import { produceRequests } from "../../../worker/src/output/produce-requests.ts";

const record = (topic: string, bytes: number) => ({
  topic,
  record: { key: null, value: "x".repeat(bytes), headers: {} },
});

describe("produceRequests", () => {
  it("groups by topic within one request while under the byte budget", () => {
    const requests = produceRequests([record("res", 10), record("dlq", 10), record("res", 10)], 100);
    expect(requests).to.have.length(1);
    expect(requests[0]?.map((t) => [t.topic, t.messages.length])).to.deep.equal([
      ["res", 2],
      ["dlq", 1],
    ]);
  });
  it("starts a new request when the budget would be exceeded, and sends an oversized record alone", () => {
    const sizes = produceRequests(
      [record("a", 60), record("a", 60), record("a", 500), record("a", 10)],
      100,
    ).map((request) => request.flatMap((t) => t.messages.map((m) => m.value.length)));
    expect(sizes).to.deep.equal([[60], [60], [500], [10]]);
  });
  it("keeps every record exactly once, in order per topic", () => {
    const input = Array.from({ length: 50 }, (_, i) => record(i % 2 ? "a" : "b", 7 + i));
    const output = produceRequests(input, 64).flat();
    const values = (topic: string, list: { topic: string; messages: { value: string }[] }[]) =>
      list.filter((t) => t.topic === topic).flatMap((t) => t.messages.map((m) => m.value));
    for (const topic of ["a", "b"]) {
      expect(values(topic, output)).to.deep.equal(
        input.filter((r) => r.topic === topic).map((r) => r.record.value),
      );
    }
  });
});
