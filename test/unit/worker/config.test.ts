import { expect } from "chai";
import { builtInModelDir, parseWorkerConfig } from "../../../worker/src/config.ts";

const minimal = {
  KAFKA_BOOTSTRAP_SERVERS: "127.0.0.1:9092, broker-2:9093",
  KAFKA_GROUP_ID: "sp-demo",
  TOPIC_REQUESTS: "req",
  TOPIC_RESPONSES: "res",
  TOPIC_DEAD_LETTER: "dlq",
};

function problemsOf(env: Record<string, string>): string[] {
  const parsed = parseWorkerConfig(env);
  if (parsed.ok) throw new Error("expected problems");
  return parsed.problems;
}

describe("parseWorkerConfig", () => {
  it("fills documented defaults around the required variables", () => {
    const parsed = parseWorkerConfig(minimal);
    if (!parsed.ok) throw new Error(parsed.problems.join("; "));
    expect(parsed.config.kafka.bootstrapServers).to.deep.equal(["127.0.0.1:9092", "broker-2:9093"]);
    expect(parsed.config.batch).to.deep.equal({ maxSize: 64, maxWaitMs: 5 });
    expect(parsed.config.retry).to.deep.equal({ maxAttempts: 3, initialBackoffMs: 100, maxBackoffMs: 10000 });
    expect(parsed.config.model).to.deep.equal({
      dir: builtInModelDir,
      maxSequenceLength: 128,
      intraOpThreads: 1,
    });
    expect(parsed.config.logLevel).to.equal("info");
  });

  it("names every missing required variable at once", () => {
    expect(problemsOf({})).to.deep.equal([
      "KAFKA_BOOTSTRAP_SERVERS is required",
      "KAFKA_GROUP_ID is required",
      "TOPIC_REQUESTS is required",
      "TOPIC_RESPONSES is required",
      "TOPIC_DEAD_LETTER is required",
    ]);
  });

  it("names the variable and the problem for bad values", () => {
    expect(
      problemsOf({
        ...minimal,
        KAFKA_BOOTSTRAP_SERVERS: "localhost",
        BATCH_MAX_SIZE: "sixty",
        BATCH_MAX_WAIT_MS: "-1",
        LOG_LEVEL: "loud",
        RETRY_INITIAL_BACKOFF_MS: "19000",
        TOPIC_RESPONSES: "req",
      }),
    ).to.deep.equal([
      "KAFKA_BOOTSTRAP_SERVERS must be a comma-separated list of host:port, got 'localhost'",
      "BATCH_MAX_SIZE must be a whole number, got 'sixty'",
      "BATCH_MAX_WAIT_MS must be between 0 and 10000, got -1",
      "LOG_LEVEL must be one of error, warn, info, debug, got 'loud'",
      "RETRY_INITIAL_BACKOFF_MS (19000) must not exceed RETRY_MAX_BACKOFF_MS (10000)",
      "TOPIC_REQUESTS, TOPIC_RESPONSES and TOPIC_DEAD_LETTER must be three different topics",
    ]);
  });
});
