// The worker's TLS and SASL for kafkajs, from the files and credentials config.ts checked; a bounded check at
// start that the brokers accept them; and the recognition of the failures no retry can cure (a rejected login,
// an untrusted broker certificate, a refused client certificate), which the operator's admin errors share.
import { readFileSync } from "node:fs";
import { Kafka, type KafkaConfig, logLevel } from "kafkajs";
import type { Logger } from "winston";
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

/** The parts of a kafkajs error read here; kafkajs's classes are not visible to ESM as named exports. */
export interface KafkaJsErrorLike {
  name?: string;
  message?: string;
  type?: string;
  code?: string;
  retriable?: boolean;
  cause?: unknown;
  errors?: unknown[];
}

/** The error and everything it wraps: kafkajs nests causes and aggregates per-topic errors. */
export function errorChain(error: unknown): KafkaJsErrorLike[] {
  if (typeof error !== "object" || error === null) return [{ message: String(error) }];
  const link = error as KafkaJsErrorLike;
  return [
    link,
    ...(link.cause === undefined ? [] : errorChain(link.cause)),
    ...(link.errors ?? []).flatMap(errorChain),
  ];
}

export type KafkaSecurityFailure =
  /** The broker rejected the SASL login: wrong user, password or mechanism. */
  | { kind: "authentication"; detail: string }
  /** The broker's certificate does not verify against the trusted CAs (or names another host). */
  | { kind: "untrusted-broker"; detail: string }
  /** The broker ended the handshake over the client's certificate: none sent, or one it does not trust. */
  | { kind: "client-certificate-refused"; detail: string };

/** OpenSSL's verification results (and Node's host check) for a server certificate the client cannot trust. */
const untrustedBrokerCodes = new Set([
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "CERT_UNTRUSTED",
  "CERT_SIGNATURE_FAILURE",
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "ERR_TLS_CERT_ALTNAME_INVALID",
]);

/** TLS alerts a server sends when it will not accept the client's certificate (Node: ERR_SSL_…_ALERT_…). */
const clientCertificateAlert =
  /^ERR_SSL_\w+_ALERT_(BAD_CERTIFICATE|CERTIFICATE_REQUIRED|UNKNOWN_CA|CERTIFICATE_UNKNOWN|UNSUPPORTED_CERTIFICATE|CERTIFICATE_REVOKED|CERTIFICATE_EXPIRED)$/;

/** Which failure no retry can cure, if any, an error from kafkajs (however wrapped) is. */
export function kafkaSecurityFailure(error: unknown): KafkaSecurityFailure | undefined {
  for (const link of errorChain(error)) {
    const message = link.message ?? "";
    if (link.name === "KafkaJSSASLAuthenticationError") return { kind: "authentication", detail: message };
    const code = link.code ?? "";
    if (untrustedBrokerCodes.has(code)) {
      return { kind: "untrusted-broker", detail: message.replace(/^Connection error: /, "") };
    }
    const alert = clientCertificateAlert.exec(code)?.[1];
    // OpenSSL's own text for an alert is a line of internals; the alert's name says what matters.
    if (alert !== undefined) {
      const name = alert.toLowerCase().replaceAll("_", " ");
      return { kind: "client-certificate-refused", detail: `the broker sent TLS alert "${name}"` };
    }
  }
  return undefined;
}

/** What a person must check, naming the worker's variables; never a secret's value. */
export function explainForWorker(failure: KafkaSecurityFailure, config: KafkaSecurityConfig): string {
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

export class KafkaAccessError extends Error {
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
  timeoutMs = 20_000,
): Promise<void> {
  const admin = new Kafka({
    clientId: kafka.clientId,
    brokers: kafka.bootstrapServers,
    ...security,
    connectionTimeout: 3_000,
    authenticationTimeout: 5_000,
    retry: { retries: 2, initialRetryTime: 300, maxRetryTime: 2_000 },
    logLevel: logLevel.NOTHING,
  }).admin();
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      admin.connect(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs / 1000} s`)), timeoutMs);
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
