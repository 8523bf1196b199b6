import { Ajv2020 } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import { expect } from "chai";
import {
  buildDeadLetter,
  buildMinimalDeadLetter,
  buildResponse,
  type SourceRecord,
} from "../../../worker/src/contract/records.ts";
import deadLetterSchema from "../../../worker/src/contract/schemas/dead-letter.schema.json" with {
  type: "json",
};
import responseSchema from "../../../worker/src/contract/schemas/response.schema.json" with { type: "json" };

const ajv = new Ajv2020({ strict: true, allErrors: true });
addFormats.default(ajv);
const validResponse = ajv.compile(responseSchema);
const validDeadLetter = ajv.compile(deadLetterSchema);
const now = new Date("2026-03-01T10:00:00.000Z");

describe("record builders", () => {
  it("builds a response that matches the response schema and echoes metadata", () => {
    const record = buildResponse(
      { id: "r1", text: "fine", metadata: { tenant: "a", nested: [1, { b: null }] } },
      { label: "positive", score: 0.9, scores: { negative: 0.1, positive: 0.9 } },
      { name: "kubesentiment-sst2", version: "1" },
      { queueMs: 1.23456, batchWaitMs: 0.5, inferenceMs: 2, batchSize: 8, attempts: 1 },
      now,
    );
    const value = JSON.parse(record.value);
    expect(validResponse(value), JSON.stringify(validResponse.errors)).to.equal(true);
    expect(record.key).to.equal("r1");
    // The hot path's record: a header would nearly double kafkajs's cost of encoding it.
    expect(record.headers).to.equal(undefined);
    expect(value.metadata).to.deep.equal({ tenant: "a", nested: [1, { b: null }] });
    expect(value.timing.queueMs).to.equal(1.235);
    expect(value.completedAt).to.equal("2026-03-01T10:00:00.000Z");
  });

  const source = (value: Buffer | null): SourceRecord => ({
    topic: "req",
    partition: 3,
    offset: "9007199254740993",
    timestamp: "1772359200000",
    key: Buffer.from("k-1"),
    value,
  });

  it("keeps the original bytes of a dead letter: text when UTF-8, base64 when not", () => {
    const text = buildDeadLetter(
      source(Buffer.from("{oops")),
      { code: "INVALID_JSON", message: "m", attempts: 0 },
      now,
    );
    const binary = buildDeadLetter(
      source(Buffer.from([0xff, 0x00, 0xfe])),
      { code: "INVALID_ENCODING", message: "m", attempts: 0 },
      now,
    );
    for (const record of [text, binary]) {
      expect(validDeadLetter(JSON.parse(record.value)), JSON.stringify(validDeadLetter.errors)).to.equal(
        true,
      );
    }
    expect(JSON.parse(text.value).value).to.deep.equal({ encoding: "utf8", data: "{oops" });
    expect(Buffer.from(JSON.parse(binary.value).value.data, "base64")).to.deep.equal(
      Buffer.from([0xff, 0x00, 0xfe]),
    );
    expect(binary.key).to.deep.equal(Buffer.from("k-1"));
    expect(binary.headers).to.deep.equal({ "kubesentiment-error-code": "INVALID_ENCODING" });
  });

  it("keeps a leading byte-order mark of the original bytes, so a redrive sends back exactly what came", () => {
    const bom = Buffer.from([0xef, 0xbb, 0xbf, 0x7b]);
    const record = JSON.parse(
      buildDeadLetter({ ...source(bom), key: bom }, { code: "INVALID_JSON", message: "m", attempts: 0 }, now)
        .value,
    );
    expect(Buffer.from(record.value.data, "utf8")).to.deep.equal(bom);
    expect(Buffer.from(record.key.data, "utf8")).to.deep.equal(bom);
  });

  it("records where a dead letter came from, with offsets beyond 2^53 intact", () => {
    const record = JSON.parse(
      buildDeadLetter(source(null), { code: "INFERENCE_FAILED", message: "boom", id: "x", attempts: 3 }, now)
        .value,
    );
    expect(validDeadLetter(record), JSON.stringify(validDeadLetter.errors)).to.equal(true);
    expect(record.source).to.deep.equal({
      topic: "req",
      partition: 3,
      offset: "9007199254740993",
      timestamp: "2026-03-01T10:00:00.000Z",
    });
    expect(record).to.include({ code: "INFERENCE_FAILED", id: "x", attempts: 3 });
    expect(record.value).to.equal(null);
  });

  it("carries a redriven request's redrive count and origin into its dead letter, full or minimal", () => {
    const redrive = { count: 2, from: { topic: "dlq", partition: 1, offset: "9007199254740993" } };
    const failure = { code: "INFERENCE_FAILED" as const, message: "boom", id: "x", attempts: 3 };
    const full = JSON.parse(buildDeadLetter({ ...source(null), redrive }, failure, now).value);
    const minimal = JSON.parse(
      buildMinimalDeadLetter({ ...source(null), redrive }, failure, "big", now).value,
    );
    for (const record of [full, minimal]) {
      expect(validDeadLetter(record), JSON.stringify(validDeadLetter.errors)).to.equal(true);
      expect(record.redrive).to.deep.equal(redrive);
    }
    expect(JSON.parse(buildDeadLetter(source(null), failure, now).value)).not.to.have.property("redrive");
  });

  it("builds a minimal dead letter: code, reason, id and source, without the original key and value", () => {
    const failure = {
      code: "RESPONSE_REFUSED" as const,
      message: "Kafka refused the response",
      id: "r1",
      attempts: 1,
    };
    const record = buildMinimalDeadLetter(
      source(Buffer.from("x".repeat(5000))),
      failure,
      "MESSAGE_TOO_LARGE: big",
      now,
    );
    const value = JSON.parse(record.value);
    expect(validDeadLetter(value), JSON.stringify(validDeadLetter.errors)).to.equal(true);
    expect(value).to.deep.include({
      code: "RESPONSE_REFUSED",
      id: "r1",
      attempts: 1,
      key: null,
      value: null,
      originalOmitted: true,
      source: {
        topic: "req",
        partition: 3,
        offset: "9007199254740993",
        timestamp: "2026-03-01T10:00:00.000Z",
      },
    });
    expect(value.message).to.equal(
      "Kafka refused the response; Kafka refused the full dead letter (MESSAGE_TOO_LARGE: big), so the original key and value are left out",
    );
    expect(record.value).to.have.length.below(600);
    expect(record.key).to.deep.equal(Buffer.from("k-1"), "a short original key still keys it");
    expect(record.headers?.["kubesentiment-error-code"]).to.equal("RESPONSE_REFUSED");
  });

  it("keys a minimal dead letter by its source when the original key is absent, empty or long", () => {
    const failure = { code: "INVALID_JSON" as const, message: "not JSON", attempts: 0 };
    for (const key of [null, Buffer.alloc(0), Buffer.alloc(1025)]) {
      const record = buildMinimalDeadLetter({ ...source(null), key }, failure, "INVALID_RECORD: no key", now);
      expect(record.key).to.equal("req/3/9007199254740993");
    }
  });

  it("leaves out a Kafka timestamp that has no date instead of failing on it", () => {
    for (const timestamp of ["8640000000000001", "-8640000000000001", "not a number"]) {
      const value = JSON.parse(
        buildDeadLetter(
          { ...source(null), timestamp },
          { code: "INVALID_JSON", message: "m", attempts: 0 },
          now,
        ).value,
      );
      expect(value.source).to.not.have.property("timestamp");
      expect(validDeadLetter(value), JSON.stringify(validDeadLetter.errors)).to.equal(true);
    }
  });
});
