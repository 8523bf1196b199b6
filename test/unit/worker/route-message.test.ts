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

  it("hands winston the classified line only when its level logs debug: a dropped line still costs its write", async () => {
    for (const [level, writes] of [
      ["info", 0],
      ["debug", 1],
    ] as const) {
      const { deps } = setUp();
      const logger = winston.createLogger({ level, silent: true });
      let written = 0;
      const write = logger.write.bind(logger);
      logger.write = ((chunk: unknown) => {
        written++;
        return write(chunk);
      }) as typeof logger.write;
      deps.logger = logger;
      await routeMessage(source('{"id":"r1","text":"good"}'), fetched, deps);
      expect(written, level).to.equal(writes);
    }
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

  it("dead-letters a request whose response cannot be serialized: metadata nested too deeply", async () => {
    const { deps } = setUp();
    deps.config = { ...deps.config, limits: { maxMessageBytes: 100_000, maxTextLength: 100 } };
    const deep = `{"id":"deep","text":"good","metadata":{"a":${"[".repeat(20_000)}${"]".repeat(20_000)}}}`;
    const routed = await routeMessage(source(deep), fetched, deps);
    expect(routed).to.include({ topic: "dlq", deadLetter: "RESPONSE_UNSERIALIZABLE" });
    expect(parsed(routed.record.value)).to.include({ id: "deep", attempts: 2 });
    expect(parsed(routed.record.value).message).to.match(/^the response could not be serialized: /);
  });

  it("dead-letters a message anything unexpected failed on, instead of rejecting", async () => {
    const { deps } = setUp({ ...positive, outcome: undefined } as unknown as Classified);
    const routed = await routeMessage(source('{"id":"r4","text":"good"}'), fetched, deps);
    expect(routed).to.include({ topic: "dlq", deadLetter: "INTERNAL_ERROR" });
    expect(parsed(routed.record.value).message).to.match(/^the worker failed on this request: /);
    const noPrediction = setUp({ ...positive, outcome: { ok: true, attempts: 1 } } as unknown as Classified);
    const unpredicted = await routeMessage(source('{"id":"r7","text":"good"}'), fetched, noPrediction.deps);
    expect(unpredicted).to.include(
      { deadLetter: "INTERNAL_ERROR" },
      "a missing prediction is no serialization problem",
    );
    const thrown = setUp();
    thrown.deps.classify = async () => {
      throw "not even an Error";
    };
    const rejected = await routeMessage(source('{"id":"r5","text":"good"}'), fetched, thrown.deps);
    expect(parsed(rejected.record.value).message).to.equal(
      "the worker failed on this request: not even an Error",
    );
  });

  it("names each record's stand-in should Kafka refuse it: response → dead letter → minimal dead letter → none", async () => {
    const { deps } = setUp();
    const response = await routeMessage(source('{"id":"r6","text":"good"}'), fetched, deps);
    const letter = response.ifRefused?.("MESSAGE_TOO_LARGE: big");
    expect(letter).to.include({ topic: "dlq", deadLetter: "RESPONSE_REFUSED" });
    expect(parsed(letter?.record.value ?? "")).to.include({
      id: "r6",
      attempts: 2,
      message: "Kafka refused the response for good: MESSAGE_TOO_LARGE: big",
    });
    expect(parsed(letter?.record.value ?? "").value).to.deep.equal({
      encoding: "utf8",
      data: '{"id":"r6","text":"good"}',
    });
    const minimal = letter?.ifRefused?.("INVALID_RECORD: no key");
    expect(minimal).to.include({ topic: "dlq", deadLetter: "RESPONSE_REFUSED" });
    expect(parsed(minimal?.record.value ?? "")).to.include({ originalOmitted: true, value: null, key: null });
    expect(minimal?.ifRefused).to.equal(undefined);
  });

  it("keeps the request's contents out of its log lines and its reason: the dead letter carries the bytes", async () => {
    const secret = "S3CR3T-customer-said-this";
    const lines: string[] = [];
    const { deps } = setUp();
    deps.logger = {
      warn: (message: string, meta: object) => lines.push(JSON.stringify({ message, ...meta })),
      debug: (message: string, meta: object) => lines.push(JSON.stringify({ message, ...meta })),
      isDebugEnabled: () => true,
    } as unknown as RouteDependencies["logger"];
    deps.config = { ...deps.config, limits: { maxMessageBytes: 100_000, maxTextLength: 100 } };
    const deep = `${"[".repeat(20_000)}${"]".repeat(20_000)}`;
    const payloads = [
      `{"id":"a","text":"${secret}"`,
      `${secret} {"id":"a"}`,
      `{"id":"a","text":"${secret}",}`,
      `{"id":"a","text":"t","metadata":{"${secret}":${deep}}}`,
      `{"id":"a","text":"t","deadline":"2001-01-01T00:00:00.${"1".repeat(5_000)}Z","metadata":{"s":"${secret}"}}`,
      `{"id":"a","text":"${secret.repeat(10)}"}`,
    ];
    for (const payload of payloads) {
      const routed = await routeMessage(source(payload), fetched, deps);
      const letter = parsed(routed.record.value);
      expect(routed.deadLetter, payload.slice(0, 60)).to.not.equal(undefined);
      expect(letter.message, payload.slice(0, 60)).to.not.include(secret);
      expect((letter.message as string).length, payload.slice(0, 60)).to.be.below(200);
      expect((letter.value as { data: string }).data).to.equal(payload, "the dead letter keeps the original");
    }
    expect(lines).to.have.length(payloads.length);
    for (const line of lines) expect(line).to.not.include(secret).and.to.not.include("S3CR3T");
  });

  it("names an unknown field, shortened: a field name of any length is content", async () => {
    const { deps } = setUp();
    const routed = await routeMessage(source(`{"id":"a","text":"t","${"n".repeat(900)}":1}`), fetched, deps);
    expect(parsed(routed.record.value).message).to.equal(`field '${"n".repeat(61)}...' is not allowed here`);
  });
});
