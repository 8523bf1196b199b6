import { loadYaml } from "@kubernetes/client-node";
import { expect } from "chai";
import { formatDocument, formatResult, formatStatus } from "../../../operator/src/cli/format.ts";
import { decodeResult } from "../../../operator/src/cli/results.ts";
import { type OffsetSample, statusReport } from "../../../operator/src/cli/status-report.ts";
import { consumerLag } from "../../../operator/src/kafka/lag.ts";
import { resolvePipeline, type SentimentPipeline } from "../../../operator/src/pipeline.ts";

const at = { topic: "default.reviews-responses", partition: 2, offset: "41" };
const response = {
  id: "r-1",
  label: "POSITIVE",
  score: 0.98765,
  scores: { POSITIVE: 0.98765, NEGATIVE: 0.01235 },
  model: { name: "m", version: "1" },
  completedAt: "2026-12-03T12:00:00Z",
};
const deadLetter = {
  code: "SCHEMA_VIOLATION",
  message: "text: must be a string",
  attempts: 0,
  source: { topic: "default.reviews-requests", partition: 0, offset: "7" },
  key: { encoding: "utf8", data: "k-9" },
  value: { encoding: "utf8", data: "{}" },
  failedAt: "2026-12-03T12:00:00Z",
};
const raw = (value: unknown, key: string | null = "k-9") => ({
  ...at,
  key: key === null ? null : Buffer.from(key),
  value: value === null ? null : Buffer.from(typeof value === "string" ? value : JSON.stringify(value)),
});

describe("kubectl sentiment: decoding and printing results", () => {
  it("decodes responses and dead letters, naming a dead letter by its id or else its key", () => {
    expect(decodeResult("response", raw(response))).to.deep.equal({
      ...at,
      kind: "response",
      id: "r-1",
      record: response,
    });
    expect(decodeResult("deadLetter", raw(deadLetter))).to.deep.include({ kind: "deadLetter", id: "k-9" });
    expect(decodeResult("deadLetter", raw({ ...deadLetter, id: "r-2" }))).to.deep.include({ id: "r-2" });
    expect(decodeResult("response", raw("{not json"))).to.deep.include({ kind: "unreadable", id: "k-9" });
    expect(decodeResult("response", raw(null, null))).to.deep.include({
      kind: "unreadable",
      id: undefined,
      problem: "the record has no value",
    });
    expect(decodeResult("response", raw(deadLetter))).to.deep.include({
      kind: "unreadable",
      problem: "not a response (no id or label)",
    });
  });

  it("prints a result as one line of text, of JSON, or as a YAML document", () => {
    const classified = decodeResult("response", raw(response));
    expect(formatResult(classified, "text", "An   absolute\ndelight.")).to.equal(
      'r-1  POSITIVE 0.988  "An absolute delight."\n',
    );
    expect(formatResult(decodeResult("deadLetter", raw(deadLetter)), "text")).to.equal(
      "k-9  DEAD LETTER SCHEMA_VIOLATION: text: must be a string\n",
    );
    const line = formatResult(classified, "json");
    expect(line.endsWith("\n") && !line.slice(0, -1).includes("\n")).to.equal(true);
    expect(JSON.parse(line)).to.deep.equal({ kind: "response", id: "r-1", ...at, record: response });
    const yaml = formatResult(classified, "yaml");
    expect(yaml.startsWith("---\n")).to.equal(true);
    expect(loadYaml(yaml.slice(4))).to.deep.equal({ kind: "response", id: "r-1", ...at, record: response });
    expect(formatResult(decodeResult("response", raw("x".repeat(300), null)), "text")).to.match(
      /^default.reviews-responses\/2\/41 {2}UNREADABLE at default.reviews-responses\/2\/41: the value is not JSON/,
    );
  });

  it("prints a document as JSON or YAML that reads back the same", () => {
    const value = { a: [1, "two"], b: { c: null } };
    expect(JSON.parse(formatDocument(value, "json"))).to.deep.equal(value);
    expect(loadYaml(formatDocument(value, "yaml"))).to.deep.equal(value);
  });
});

describe("kubectl sentiment: status", () => {
  const pipeline: SentimentPipeline = {
    apiVersion: "kubesentiment.io/v1alpha1",
    kind: "SentimentPipeline",
    metadata: { name: "reviews", namespace: "shop" },
    spec: { kafka: { bootstrapServers: ["k:9092"] }, topics: { partitions: 2 } },
    status: {
      replicas: 2,
      readyReplicas: 1,
      desiredReplicas: 2,
      conditions: [
        {
          type: "Ready",
          status: "True",
          reason: "Ready",
          message: "serving",
          lastTransitionTime: "2026-12-03T11:00:00Z",
        },
      ],
    },
  };
  const sample = (
    atMs: number,
    ends: [number, number],
    committed: [number, number | null],
    out: [number, number],
  ) =>
    ({
      atMs,
      lag: consumerLag([
        { partition: 1, logStartOffset: 0, logEndOffset: ends[1], committedOffset: committed[1] },
        { partition: 0, logStartOffset: 0, logEndOffset: ends[0], committedOffset: committed[0] },
      ]),
      responsesEnd: out[0],
      deadLetterEnd: out[1],
    }) satisfies OffsetSample;

  it("reports conditions, replicas, the last lag per partition, and rates over the window", () => {
    const report = statusReport(
      pipeline,
      resolvePipeline(pipeline),
      sample(10_000, [100, 50], [90, null], [1000, 3]),
      sample(12_000, [130, 60], [125, null], [1031, 4]),
    );
    expect(report).to.deep.include({
      pipeline: { namespace: "shop", name: "reviews" },
      ready: "True",
      paused: false,
      replicas: { desired: 2, current: 2, ready: 1 },
      consumerGroup: "kubesentiment.shop.reviews",
      lag: {
        total: 65,
        partitions: [
          { partition: 0, lag: 5 },
          { partition: 1, lag: 60 },
        ],
        partitionsWithoutCommit: [1],
      },
      throughput: {
        windowSeconds: 2,
        requestsPerSecond: 20,
        responsesPerSecond: 15.5,
        deadLettersPerSecond: 0.5,
      },
    });
    expect(report.topics).to.deep.equal({
      requests: "shop.reviews-requests",
      responses: "shop.reviews-responses",
      deadLetter: "shop.reviews-dlq",
      partitions: 2,
    });
    const text = formatStatus(report);
    expect(text).to.include("Pipeline:     shop/reviews\nReady:        True\n");
    expect(text).to.include("Replicas:     1 ready, 2 running, 2 desired");
    expect(text).to.include("20 requests/s in, 15.5 responses/s, 0.5 dead letters/s (over 2 s)");
    expect(text).to.match(/CONDITION +STATUS +REASON +MESSAGE\nReady +True +Ready +serving/);
    expect(text).to.match(/PARTITION +LAG\n0 +5\n1 +60\ntotal +65\n/);
    expect(text).to.include("(partition 1 has no committed offset: all of it counts as lag)");
  });

  it("says a paused pipeline is paused, and never reports a negative rate", () => {
    const paused = { ...pipeline, spec: { ...pipeline.spec, paused: true } };
    const report = statusReport(
      paused,
      resolvePipeline(paused),
      sample(0, [10, 10], [10, 10], [5, 5]),
      sample(1_000, [10, 10], [10, 10], [0, 0]),
    );
    expect(report.paused).to.equal(true);
    expect(report.throughput.responsesPerSecond).to.equal(0);
    expect(formatStatus(report)).to.include("Ready:        True (paused)");
  });
});
