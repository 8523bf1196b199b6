import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { builtInModelDir, heartbeatIntervalMs, parseWorkerConfig } from "../../../worker/src/config.ts";

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
    expect(parsed.config.batch).to.deep.equal({ maxSize: 256, maxWaitMs: 0 });
    expect(parsed.config.retry).to.deep.equal({ maxAttempts: 3, initialBackoffMs: 100, maxBackoffMs: 10000 });
    expect(parsed.config.model).to.deep.equal({
      dir: builtInModelDir,
      maxSequenceLength: 128,
      threads: 1,
      intraOpThreads: 1,
    });
    expect(parsed.config.logLevel).to.equal("info");
  });

  it("heartbeats a tenth of the session timeout apart, at most a second: 1 s by default, 0.6 s at the broker's 6 s minimum", () => {
    const at = (timeout?: string) => {
      const parsed = parseWorkerConfig(
        timeout === undefined ? minimal : { ...minimal, KAFKA_SESSION_TIMEOUT_MS: timeout },
      );
      if (!parsed.ok) throw new Error(parsed.problems.join("; "));
      return heartbeatIntervalMs(parsed.config.kafka);
    };
    expect(at()).to.equal(1000);
    expect(at("6000")).to.equal(600);
    expect(at("9000")).to.equal(900);
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

  describe("Kafka TLS and SASL", () => {
    let dir: string;
    let pem: (name: string) => string;
    before(() => {
      dir = mkdtempSync(join(tmpdir(), "worker-config-"));
      pem = (name) => {
        const path = join(dir, name);
        writeFileSync(path, "-----BEGIN CERTIFICATE-----\n");
        return path;
      };
    });
    after(() => rmSync(dir, { recursive: true, force: true }));

    it("has neither unless asked", () => {
      const parsed = parseWorkerConfig(minimal);
      if (!parsed.ok) throw new Error(parsed.problems.join("; "));
      expect(parsed.config.kafka).not.to.have.any.keys("tls", "sasl");
    });

    it("reads a CA, a client certificate with its key, and SCRAM credentials", () => {
      const parsed = parseWorkerConfig({
        ...minimal,
        KAFKA_TLS_ENABLED: "true",
        KAFKA_TLS_CA_FILE: pem("ca.crt"),
        KAFKA_TLS_CERT_FILE: pem("tls.crt"),
        KAFKA_TLS_KEY_FILE: pem("tls.key"),
        KAFKA_SASL_MECHANISM: "scram-sha-256",
        KAFKA_SASL_USERNAME: "alice",
        KAFKA_SASL_PASSWORD: "pa55",
      });
      if (!parsed.ok) throw new Error(parsed.problems.join("; "));
      expect(parsed.config.kafka.tls).to.deep.equal({
        caFile: join(dir, "ca.crt"),
        client: { certFile: join(dir, "tls.crt"), keyFile: join(dir, "tls.key") },
      });
      expect(parsed.config.kafka.sasl).to.deep.equal({
        mechanism: "scram-sha-256",
        username: "alice",
        password: "pa55",
      });
    });

    it("trusts the system's CAs when TLS is on without a CA file", () => {
      const parsed = parseWorkerConfig({ ...minimal, KAFKA_TLS_ENABLED: "true" });
      if (!parsed.ok) throw new Error(parsed.problems.join("; "));
      expect(parsed.config.kafka.tls).to.deep.equal({});
    });

    it("names the variable of each missing file, half a client certificate and files without TLS", () => {
      expect(
        problemsOf({
          ...minimal,
          KAFKA_TLS_ENABLED: "yes",
          KAFKA_TLS_CA_FILE: join(dir, "absent.crt"),
          KAFKA_TLS_CERT_FILE: pem("only.crt"),
        }),
      ).to.deep.equal([
        "KAFKA_TLS_ENABLED must be true or false, got 'yes'",
        `KAFKA_TLS_CA_FILE names ${join(dir, "absent.crt")}, which does not exist`,
        "KAFKA_TLS_CA_FILE is set but KAFKA_TLS_ENABLED is not true",
        "KAFKA_TLS_CERT_FILE is set but KAFKA_TLS_ENABLED is not true",
      ]);
      expect(
        problemsOf({ ...minimal, KAFKA_TLS_ENABLED: "true", KAFKA_TLS_KEY_FILE: pem("only.key") }),
      ).to.deep.equal([
        "KAFKA_TLS_CERT_FILE and KAFKA_TLS_KEY_FILE go together (a client certificate and its key): KAFKA_TLS_CERT_FILE is missing",
      ]);
    });

    it("requires user and password with a mechanism, and a mechanism with either; never echoes the password", () => {
      const problems = problemsOf({
        ...minimal,
        KAFKA_SASL_MECHANISM: "plain",
        KAFKA_SASL_PASSWORD: "s3cr3t",
      });
      expect(problems).to.deep.equal([
        "KAFKA_SASL_MECHANISM must be one of scram-sha-512, scram-sha-256, got 'plain'",
        "KAFKA_SASL_USERNAME is required when KAFKA_SASL_MECHANISM is set",
      ]);
      const orphans = problemsOf({ ...minimal, KAFKA_SASL_USERNAME: "alice", KAFKA_SASL_PASSWORD: "s3cr3t" });
      expect(orphans).to.deep.equal([
        "KAFKA_SASL_USERNAME is set but KAFKA_SASL_MECHANISM is not",
        "KAFKA_SASL_PASSWORD is set but KAFKA_SASL_MECHANISM is not",
      ]);
      expect([...problems, ...orphans].join(" ")).not.to.include("s3cr3t");
    });
  });
});
