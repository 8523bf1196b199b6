// The worker's TLS and SASL for kafkajs, from the files and credentials config.ts checked, and a bounded check
// at start that the brokers accept them, explaining a failure no retry can cure in the worker's own variables.
import { readFileSync } from "node:fs";
import { type Admin, Kafka, type KafkaConfig, logLevel } from "kafkajs";
import type { Logger } from "winston";
import { type KafkaSecurityFailure, kafkaSecurityFailure } from "../../common/src/kafka-errors.ts";
import type { WorkerConfig } from "./config.ts";

type KafkaSecurityConfig = Pick<WorkerConfig["kafka"], "tls" | "sasl">;
export type KafkaSecurityOptions = Pick<KafkaConfig, "ssl" | "sasl">;

/** kafkajs's ssl and sasl options; the files are read now, so a Secret rotated later needs a restart. */
export function kafkaSecurityOptions({ tls, sasl }: KafkaSecurityConfig): KafkaSecurityOptions {
  const ssl =
    tls === undefined
      ? undefined
      : {
          ...(tls.caFile === undefined ? {} : { ca: [readFileSync(tls.caFile)] }),
          ...(tls.client === undefined
            ? {}
            : { cert: readFileSync(tls.client.certFile), key: readFileSync(tls.client.keyFile) }),
        };
  return {
    ...(ssl === undefined ? {} : { ssl }),
    ...(sasl === undefined
      ? {}
      : {
          sasl:
            sasl.mechanism === "scram-sha-256"
              ? { mechanism: "scram-sha-256", username: sasl.username, password: sasl.password }
              : { mechanism: "scram-sha-512", username: sasl.username, password: sasl.password },
        }),
  };
}

/** What a person must check, naming the worker's variables; never a secret's value. */
function explainForWorker(failure: KafkaSecurityFailure, config: KafkaSecurityConfig): string {
  switch (failure.kind) {
    case "authentication":
      return (
        `SASL authentication failed for user ${config.sasl?.username ?? "(none)"}: check ` +
        `KAFKA_SASL_USERNAME/KAFKA_SASL_PASSWORD and KAFKA_SASL_MECHANISM (${failure.detail})`
      );
    case "untrusted-broker":
      return `the broker's TLS certificate is not trusted: check KAFKA_TLS_CA_FILE (${failure.detail})`;
    case "client-certificate-refused":
      return config.tls?.client === undefined
        ? `the broker requires a client certificate: set KAFKA_TLS_CERT_FILE and KAFKA_TLS_KEY_FILE (${failure.detail})`
        : `the broker refused the client certificate: check KAFKA_TLS_CERT_FILE and KAFKA_TLS_KEY_FILE (${failure.detail})`;
  }
}

/** How long the start-up check waits for an answer before leaving the brokers to the real clients. */
const accessCheckTimeoutMs = 20_000;

class KafkaAccessError extends Error {
  override readonly name = "KafkaAccessError";
}

/**
 * Connects once with few retries before the real clients start. Those retry a connection error for as long as
 * it takes (the producer forever), which rides out a broker's restart but turns a certificate nobody trusts into
 * a silent hang: a failure no retry can cure throws a KafkaAccessError saying what to fix, anything else (a
 * broker not up yet) is left to the real clients' patience.
 */
export async function checkKafkaAccess(
  kafka: WorkerConfig["kafka"],
  security: KafkaSecurityOptions,
  logger: Logger,
  admin: Pick<Admin, "connect" | "disconnect"> = checkingAdmin(kafka, security),
): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      admin.connect(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`no answer within ${accessCheckTimeoutMs / 1000} s`)),
          accessCheckTimeoutMs,
        );
      }),
    ]);
  } catch (error) {
    const failure = kafkaSecurityFailure(error);
    if (failure !== undefined) throw new KafkaAccessError(explainForWorker(failure, kafka));
    logger.warn("Kafka did not answer the start-up check; connecting with the usual retries", {
      error: error instanceof Error ? error.message : String(error),
    });
  } finally {
    clearTimeout(timer);
    await admin.disconnect().catch(() => {});
  }
}

/** An admin client with few retries and short timeouts: the check must answer quickly, whatever the brokers do. */
function checkingAdmin(kafka: WorkerConfig["kafka"], security: KafkaSecurityOptions): Admin {
  return new Kafka({
    clientId: kafka.clientId,
    brokers: kafka.bootstrapServers,
    ...security,
    connectionTimeout: 3_000,
    authenticationTimeout: 5_000,
    retry: { retries: 2, initialRetryTime: 300, maxRetryTime: 2_000 },
    logLevel: logLevel.NOTHING,
  }).admin();
}
