import { expect } from "chai";
import kafkajs from "kafkajs";
import { KafkaAdminError, toKafkaAdminError } from "../../../operator/src/kafka/errors.ts";
import { unusableBecause } from "../../../operator/src/kafka/readiness.ts";

// kafkajs's error classes, as kafkajs itself throws them. It is CommonJS (not visible to ESM as named exports)
// and its type declarations omit some classes and constructor options, so they are taken untyped.
type ErrorClass = new (...args: unknown[]) => Error;
const {
  KafkaJSAggregateError,
  KafkaJSConnectionError,
  KafkaJSCreateTopicError,
  KafkaJSNumberOfRetriesExceeded,
  KafkaJSProtocolError,
  KafkaJSSASLAuthenticationError,
} = kafkajs as unknown as Record<
  | "KafkaJSAggregateError"
  | "KafkaJSConnectionError"
  | "KafkaJSCreateTopicError"
  | "KafkaJSNumberOfRetriesExceeded"
  | "KafkaJSProtocolError"
  | "KafkaJSSASLAuthenticationError",
  ErrorClass
>;

const servers = ["kafka-0:9092", "kafka-1:9092"];

describe("Kafka admin errors", () => {
  it("calls a refused connection, however wrapped, KafkaUnreachable and names the bootstrap servers", () => {
    const refused = new KafkaJSConnectionError("Connection error: connect ECONNREFUSED 10.0.0.1:9092");
    const wrapped = new KafkaJSNumberOfRetriesExceeded(refused, { retryCount: 2, retryTime: 800 });
    const error = toKafkaAdminError(wrapped, { servers, action: "describing topics", connecting: true });
    expect(error).to.be.instanceOf(KafkaAdminError);
    expect(error).to.include({ reason: "KafkaUnreachable", retriable: true });
    expect(error.message).to.include("kafka-0:9092, kafka-1:9092").and.include("ECONNREFUSED");
    expect(error.cause).to.equal(wrapped);
  });

  it("calls any failure while connecting KafkaUnreachable, except a rejected login", () => {
    const silent = toKafkaAdminError(new Error("Request ApiVersions timed out"), {
      servers,
      action: "describing topics",
      connecting: true,
    });
    expect(silent.reason).to.equal("KafkaUnreachable");
    const login = toKafkaAdminError(
      new KafkaJSSASLAuthenticationError("SASL SCRAM SHA512 authentication failed"),
      {
        servers,
        action: "describing topics",
        connecting: true,
      },
    );
    expect(login).to.include({ reason: "KafkaAuthenticationFailed", retriable: false });
    expect(login.message)
      .to.include("authentication failed")
      .and.include("spec.kafka.sasl.secretRef")
      .and.include("kafka-0:9092");
  });

  it("names the operator's own login fields (spec.kafka.admin) when Kafka rejects that login", () => {
    const loginFields = { sasl: "spec.kafka.admin.sasl", certificate: "spec.kafka.admin.certSecretRef" };
    const context = { servers, action: "describing topics", connecting: true, loginFields };
    const login = toKafkaAdminError(
      new KafkaJSSASLAuthenticationError("SASL SCRAM SHA512 authentication failed"),
      context,
    );
    expect(login.message)
      .to.include("spec.kafka.admin.sasl.secretRef")
      .and.include("spec.kafka.admin.sasl.mechanism")
      .and.not.include("spec.kafka.sasl");
    const refused = Object.assign(new KafkaJSConnectionError("Connection error"), {
      code: "ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE",
    });
    expect(toKafkaAdminError(refused, context).message).to.include("spec.kafka.admin.certSecretRef");
  });

  it("calls a broker certificate nobody trusts, or a refused client certificate, KafkaTlsFailed", () => {
    const untrusted = Object.assign(
      new KafkaJSConnectionError("Connection error: unable to verify the first certificate"),
      { code: "UNABLE_TO_VERIFY_LEAF_SIGNATURE" },
    );
    const wrapped = new KafkaJSNumberOfRetriesExceeded(untrusted, { retryCount: 2, retryTime: 800 });
    const trust = toKafkaAdminError(wrapped, { servers, action: "describing topics", connecting: true });
    expect(trust).to.include({ reason: "KafkaTlsFailed", retriable: false });
    expect(trust.message)
      .to.include("spec.kafka.tls.caSecretRef")
      .and.include("unable to verify the first certificate");
    expect(trust.cause).to.equal(wrapped);

    const refused = Object.assign(
      new KafkaJSConnectionError("Connection error: 80:error:0A000412:SSL routines"),
      {
        code: "ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE",
      },
    );
    const client = toKafkaAdminError(refused, { servers, action: "describing topics", connecting: true });
    expect(client).to.include({ reason: "KafkaTlsFailed", retriable: false });
    expect(client.message)
      .to.include("spec.kafka.tls.certSecretRef")
      .and.include('TLS alert "bad certificate"');
  });

  it("adds what kafkajs last logged when it says more than the thrown error", () => {
    const vague = toKafkaAdminError(new Error("Broker not connected"), {
      servers,
      action: "describing topics",
      connecting: true,
      lastLoggedError: "Request ApiVersions(key: 18, version: 2) timed out",
    });
    expect(vague.message).to.match(
      /: Broker not connected; Request ApiVersions\(key: 18, version: 2\) timed out$/,
    );
    const refused = toKafkaAdminError(new KafkaJSConnectionError("Connection error: connect ECONNREFUSED"), {
      servers,
      action: "describing topics",
      connecting: true,
      lastLoggedError:
        "Failed to connect to seed broker, trying another broker: Connection error: connect ECONNREFUSED",
    });
    expect(refused.message).to.match(/: Connection error: connect ECONNREFUSED$/);
  });

  it("calls a connection lost mid-call KafkaUnreachable", () => {
    const lost = new KafkaJSConnectionError("Connection closed");
    expect(toKafkaAdminError(lost, { servers, action: "deleting", connecting: false }).reason).to.equal(
      "KafkaUnreachable",
    );
  });

  it("names the broker's answer of every failed topic and keeps it not retriable when it is final", () => {
    const invalid = new KafkaJSCreateTopicError(
      { message: "Replication-factor is invalid", type: "INVALID_REPLICATION_FACTOR", retriable: false },
      "t",
    );
    const error = toKafkaAdminError(new KafkaJSAggregateError("Topic creation errors", [invalid]), {
      servers,
      action: 'creating topic "t" (8 partitions, replication factor 3)',
      connecting: false,
    });
    expect(error).to.include({ reason: "TopicOperationFailed", retriable: false });
    expect(error.message).to.equal(
      'creating topic "t" (8 partitions, replication factor 3) failed: Replication-factor is invalid (INVALID_REPLICATION_FACTOR)',
    );
  });

  it("is retriable when the broker's answer is, even inside kafkajs's final 'retries exceeded'", () => {
    const notController = new KafkaJSProtocolError({
      message: "This is not the correct controller for this cluster",
      type: "NOT_CONTROLLER",
      retriable: true,
    });
    const wrapped = new KafkaJSNumberOfRetriesExceeded(notController, { retryCount: 2, retryTime: 900 });
    const error = toKafkaAdminError(wrapped, { servers, action: "raising", connecting: false });
    expect(error).to.include({ reason: "TopicOperationFailed", retriable: true });
    expect(error.message).to.include("(NOT_CONTROLLER)");
  });

  it("passes a KafkaAdminError through unchanged", () => {
    const original = new KafkaAdminError("TopicNotReady", "not yet", true);
    expect(toKafkaAdminError(original, { servers, action: "x", connecting: true })).to.equal(original);
  });
});

describe("topic readiness", () => {
  const led = (partitionId: number, isr: number[]) => ({
    partitionId,
    leader: isr[0] ?? -1,
    replicas: [1, 2, 3],
    isr,
  });

  it("is usable when every partition has a leader and min.insync.replicas in sync", () => {
    expect(unusableBecause("t", [led(0, [1, 2]), led(1, [2, 3, 1])], 2, 2)).to.deep.equal([]);
  });

  it("names missing partitions, partitions without a leader and too few in-sync replicas", () => {
    const partitions = [led(1, [2]), { partitionId: 0, leader: -1, replicas: [1, 2, 3], isr: [] }];
    expect(unusableBecause("t", partitions, 3, 2)).to.deep.equal([
      'topic "t" shows 2 of 3 partitions',
      "partition t-0 has no leader",
      "partition t-1 has 1 in-sync replica(s), needs 2",
    ]);
  });

  it("needs no more in-sync replicas than a partition has replicas", () => {
    const single = { partitionId: 0, leader: 1, replicas: [1], isr: [1] };
    expect(unusableBecause("t", [single], 1, 2)).to.deep.equal([]);
  });
});
