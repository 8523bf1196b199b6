import { expect } from "chai";
import winston from "winston";
import type { SourceRecord } from "../../../worker/src/contract/records.ts";
import type { SentimentRequest } from "../../../worker/src/contract/request.ts";
import type { Classified } from "../../../worker/src/routing/batched-inference.ts";
import { type RouteDependencies, routeMessage } from "../../../worker/src/routing/route-message.ts";

const fetched = { at: 1_000, wallMs: Date.parse("2026-01-01T00:00:10Z") };

const source = (value: string | null): SourceRecord => ({
  topic: "req",
  partition: 2,
  offset: "7",
  timestamp: String(Date.parse("2026-01-01T00:00:04Z")),
  key: Buffer.from("key"),
  value: value === null ? null : Buffer.from(value),
});

const positive: Classified = {
  outcome: {
    ok: true,
    result: { label: "positive", score: 0.9, scores: { positive: 0.9, negative: 0.1 } },
    attempts: 2,
  },
  batchWaitMs: 3,
  inferenceMs: 5,
  batchSize: 4,
};

function setUp(classified: Classified = positive) {
  const calls: { request: SentimentRequest; fetchedAt: number }[] = [];
  const deps: RouteDependencies = {
    config: {
      topics: { requests: "req", responses: "res", deadLetter: "dlq" },
      limits: { maxMessageBytes: 1_000, maxTextLength: 100 },
    },
    model: { name: "m", version: "v1" },
    classify: async (request, fetchedAt) => {
      calls.push({ request, fetchedAt });
      return classified;
    },
    logger: winston.createLogger({ silent: true }),
  };
  return { deps, classifyCalls: calls };
}

const parsed = (value: string) => JSON.parse(value) as Record<string, unknown>;

describe("routeMessage", () => {
  it("answers a valid request with a response: its prediction, the model and where its time went", async () => {
    const { deps, classifyCalls } = setUp();
    const routed = await routeMessage(source('{"id":"r1","text":"good","metadata":{"a":1}}'), fetched, deps);
    expect(routed.topic).to.equal("res");
    expect(routed.deadLetter).to.equal(undefined);
    expect(routed.record.key).to.equal("r1");
    expect(parsed(routed.record.value)).to.deep.include({
      id: "r1",
      label: "positive",
      model: { name: "m", version: "v1" },
      metadata: { a: 1 },
      timing: { queueMs: 6_000, batchWaitMs: 3, inferenceMs: 5, batchSize: 4, attempts: 2 },
    });
    expect(classifyCalls.map((c) => [c.request.text, c.fetchedAt])).to.deep.equal([["good", 1_000]]);
  });

  it("dead-letters an undecodable message without classifying it, keeping its key and bytes", async () => {
    const { deps, classifyCalls } = setUp();
    const routed = await routeMessage(source("not json"), fetched, deps);
    expect(routed).to.include({ topic: "dlq", deadLetter: "INVALID_JSON" });
    expect(routed.record.key).to.deep.equal(Buffer.from("key"));
    expect(parsed(routed.record.value)).to.deep.include({
      code: "INVALID_JSON",
      attempts: 0,
      source: { topic: "req", partition: 2, offset: "7", timestamp: "2026-01-01T00:00:04.000Z" },
      value: { encoding: "utf8", data: "not json" },
    });
    expect(classifyCalls).to.deep.equal([]);
  });

  it("dead-letters a request whose deadline passed before its fetch, without classifying it", async () => {
    const { deps, classifyCalls } = setUp();
    const late = '{"id":"r2","text":"good","deadline":"2026-01-01T00:00:09Z"}';
    const routed = await routeMessage(source(late), fetched, deps);
    expect(routed).to.include({ topic: "dlq", deadLetter: "DEADLINE_EXCEEDED" });
    expect(parsed(routed.record.value)).to.include({ id: "r2", attempts: 0 });
    expect(classifyCalls).to.deep.equal([]);
  });

  it("dead-letters a request the model failed on every attempt, saying how many and why", async () => {
    const { deps } = setUp({
      ...positive,
      outcome: { ok: false, error: new Error("model down"), attempts: 3 },
    });
    const routed = await routeMessage(source('{"id":"r3","text":"good"}'), fetched, deps);
    expect(routed).to.include({ topic: "dlq", deadLetter: "INFERENCE_FAILED" });
    expect(parsed(routed.record.value)).to.include({
      id: "r3",
      attempts: 3,
      message: "inference failed after 3 attempts: model down",
    });
  });
});
