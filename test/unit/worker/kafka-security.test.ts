import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import kafkajs from "kafkajs";
import winston from "winston";
import { kafkaSecurityFailure } from "../../../common/src/kafka-errors.ts";
import type { WorkerConfig } from "../../../worker/src/config.ts";
import { checkKafkaAccess, kafkaSecurityOptions } from "../../../worker/src/kafka-security.ts";

// kafkajs is CommonJS: its error classes are not visible to ESM as named exports.
type ErrorClass = new (...args: unknown[]) => Error;
const { KafkaJSConnectionError, KafkaJSNumberOfRetriesExceeded, KafkaJSSASLAuthenticationError } =
  kafkajs as unknown as Record<
    "KafkaJSConnectionError" | "KafkaJSNumberOfRetriesExceeded" | "KafkaJSSASLAuthenticationError",
    ErrorClass
  >;

const connectionError = (message: string, code: string) =>
  Object.assign(new KafkaJSConnectionError(`Connection error: ${message}`), { code });
const retried = (error: Error) =>
  new KafkaJSNumberOfRetriesExceeded(error, { retryCount: 2, retryTime: 900 });

describe("worker Kafka security", () => {
  it("gives kafkajs the files' contents and the SCRAM mechanism", () => {
    const dir = mkdtempSync(join(tmpdir(), "worker-kafka-security-"));
    try {
      for (const name of ["ca.crt", "tls.crt", "tls.key"]) writeFileSync(join(dir, name), `${name} pem`);
      const options = kafkaSecurityOptions({
        tls: {
          caFile: join(dir, "ca.crt"),
          client: { certFile: join(dir, "tls.crt"), keyFile: join(dir, "tls.key") },
        },
        sasl: { mechanism: "scram-sha-512", username: "alice", password: "pw" },
      });
      expect(options.ssl).to.deep.equal({
        ca: [Buffer.from("ca.crt pem")],
        cert: Buffer.from("tls.crt pem"),
        key: Buffer.from("tls.key pem"),
      });
      expect(options.sasl).to.deep.equal({ mechanism: "scram-sha-512", username: "alice", password: "pw" });
      expect(kafkaSecurityOptions({})).to.deep.equal({});
      expect(kafkaSecurityOptions({ tls: {} })).to.deep.equal({ ssl: {} });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("recognises a rejected login, an untrusted broker and a refused client certificate, however wrapped", () => {
    const login = new KafkaJSSASLAuthenticationError(
      "SASL SCRAM SHA512 authentication failed: invalid credentials",
    );
    expect(kafkaSecurityFailure(login)).to.deep.include({ kind: "authentication" });
    expect(
      kafkaSecurityFailure(
        retried(connectionError("unable to verify the first certificate", "UNABLE_TO_VERIFY_LEAF_SIGNATURE")),
      ),
    ).to.deep.equal({ kind: "untrusted-broker", detail: "unable to verify the first certificate" });
    expect(
      kafkaSecurityFailure(
        connectionError("80:error:0A000412:SSL routines:…", "ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED"),
      ),
    ).to.deep.equal({
      kind: "client-certificate-refused",
      detail: 'the broker sent TLS alert "certificate required"',
    });
  });

  it("leaves failures a retry can cure to the retries", () => {
    expect(
      kafkaSecurityFailure(retried(connectionError("connect ECONNREFUSED 127.0.0.1:9092", "ECONNREFUSED"))),
    ).to.equal(undefined);
    expect(kafkaSecurityFailure(new Error("Closed connection"))).to.equal(undefined);
  });

  it("stops the worker with an error naming its variables to check, and the user but never the password", async () => {
    const sasl = { mechanism: "scram-sha-512", username: "alice", password: "s3cr3t" } as const;
    const login = await accessCheck(
      new KafkaJSSASLAuthenticationError("SASL SCRAM SHA512 authentication failed: invalid credentials"),
      { sasl },
    );
    expect(login?.name).to.equal("KafkaAccessError");
    expect(login?.message).to.match(
      /^SASL authentication failed for user alice: check KAFKA_SASL_USERNAME\/KAFKA_SASL_PASSWORD/,
    );
    expect(login?.message).not.to.include("s3cr3t");
    const untrusted = connectionError(
      "unable to verify the first certificate",
      "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
    );
    expect((await accessCheck(untrusted, { tls: {} }))?.message).to.match(
      /^the broker's TLS certificate is not trusted: check KAFKA_TLS_CA_FILE/,
    );
    const refused = connectionError(
      "80:error:0A000412:SSL routines:…",
      "ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED",
    );
    expect((await accessCheck(refused, { tls: {} }))?.message).to.match(
      /^the broker requires a client certificate: set KAFKA_TLS_CERT_FILE and KAFKA_TLS_KEY_FILE/,
    );
    const client = { certFile: "c", keyFile: "k" };
    expect((await accessCheck(refused, { tls: { client } }))?.message).to.match(
      /^the broker refused the client certificate: check KAFKA_TLS_CERT_FILE/,
    );
  });

  it("lets the worker start when the brokers do not answer the check, for the real clients to retry", async () => {
    const down = retried(connectionError("connect ECONNREFUSED 127.0.0.1:9092", "ECONNREFUSED"));
    expect(await accessCheck(down, {})).to.equal(undefined);
  });
});

/** The start-up check against brokers that fail the connection with `error`: what it throws, if anything. */
async function accessCheck(
  error: Error,
  security: Pick<WorkerConfig["kafka"], "tls" | "sasl">,
): Promise<Error | undefined> {
  const kafka = {
    bootstrapServers: ["broker:9092"],
    clientId: "worker",
    groupId: "group",
    sessionTimeoutMs: 30_000,
  };
  const admin = {
    connect: async () => {
      throw error;
    },
    disconnect: async () => {},
  };
  const logger = winston.createLogger({ silent: true });
  return checkKafkaAccess({ ...kafka, ...security }, {}, logger, admin).then(
    () => undefined,
    (thrown: Error) => thrown,
  );
}
