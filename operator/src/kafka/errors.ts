// One error type for everything the Kafka layer can fail with, carrying what a reconcile needs: a CamelCase
// reason for the condition, a sentence a person can act on, and whether trying again later can help.
import {
  errorChain,
  type KafkaJsErrorLike,
  type KafkaSecurityFailure,
  kafkaSecurityFailure,
} from "../../../common/src/kafka-errors.ts";
import { type LoginFields, workersLoginFields } from "./client.ts";

export type KafkaAdminReason =
  /** No broker answered: down, wrong address, a firewall, or TLS on one side only. */
  | "KafkaUnreachable"
  /** A broker rejected the SASL login (spec.kafka.sasl). */
  | "KafkaAuthenticationFailed"
  /** The TLS handshake failed over a certificate: the broker's is not trusted, or ours was refused. */
  | "KafkaTlsFailed"
  /** A broker answered and refused or failed an operation. */
  | "TopicOperationFailed"
  /** Topics exist but some partition has no leader or too few in-sync replicas yet. */
  | "TopicNotReady"
  /** A Secret named by spec.kafka.tls or .sasl does not exist, or lacks a key (see credentials.ts). */
  | "SecretNotFound"
  | "SecretKeyMissing";

export class KafkaAdminError extends Error {
  override readonly name = "KafkaAdminError";

  constructor(
    readonly reason: KafkaAdminReason,
    message: string,
    readonly retriable: boolean,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

const connectionErrors = new Set(["KafkaJSConnectionError", "KafkaJSConnectionClosedError"]);

/**
 * Turns whatever kafkajs threw into a KafkaAdminError. A rejected login or certificate is said as such, whenever
 * it happens. `connecting`: the failure happened before any broker answered, so otherwise it means no broker
 * could be reached. `lastLoggedError`: what kafkajs
 * last logged as an error, added when it says something the thrown error does not.
 */
export function toKafkaAdminError(
  error: unknown,
  context: {
    servers: readonly string[];
    action: string;
    connecting: boolean;
    lastLoggedError?: string | undefined;
    loginFields?: LoginFields | undefined;
  },
): KafkaAdminError {
  if (error instanceof KafkaAdminError) return error;
  const security = kafkaSecurityFailure(error);
  if (security !== undefined) return securityError(security, context, error);
  const chain = errorChain(error);
  const ends = chain.filter((link) => link.cause === undefined && link.errors === undefined);
  const leaves = ends.length > 0 ? ends : chain.slice(0, 1);
  const details = new Set(leaves.map(describe));
  const logged = context.lastLoggedError;
  if (logged !== undefined && ![...details].some((known) => logged.includes(known))) details.add(logged);
  const detail = [...details].join("; ");
  const connectionLost = chain.some((link) => connectionErrors.has(link.name ?? ""));
  if (context.connecting || connectionLost) {
    return new KafkaAdminError(
      "KafkaUnreachable",
      `no Kafka broker answered at ${context.servers.join(", ")} (spec.kafka.bootstrapServers) while ` +
        `${context.action}: ${detail}`,
      true,
      { cause: error },
    );
  }
  return new KafkaAdminError(
    "TopicOperationFailed",
    `${context.action} failed: ${detail}`,
    // kafkajs wraps the broker's answer (e.g. in "number of retries exceeded", never retriable itself); the
    // answer says whether asking again later can succeed.
    leaves.some((leaf) => leaf.retriable === true),
    { cause: error },
  );
}

/**
 * Names the spec field to fix; only kafkajs's and the broker's words follow, never a Secret's contents. Not
 * retriable: the same Secrets give the same answer until someone changes them.
 */
function securityError(
  failure: KafkaSecurityFailure,
  context: { servers: readonly string[]; action: string; loginFields?: LoginFields | undefined },
  cause: unknown,
): KafkaAdminError {
  const at = `${context.servers.join(", ")} (spec.kafka.bootstrapServers)`;
  const fields = context.loginFields ?? workersLoginFields;
  const [reason, message]: [KafkaAdminReason, string] =
    failure.kind === "authentication"
      ? [
          "KafkaAuthenticationFailed",
          `Kafka at ${at} rejected the SASL login while ${context.action}: check the username and password ` +
            `in the Secret named by ${fields.sasl}.secretRef, and ${fields.sasl}.mechanism (${failure.detail})`,
        ]
      : failure.kind === "untrusted-broker"
        ? [
            "KafkaTlsFailed",
            `the TLS certificate of Kafka at ${at} is not trusted while ${context.action}: check the CA bundle ` +
              `in spec.kafka.tls.caSecretRef (${failure.detail})`,
          ]
        : [
            "KafkaTlsFailed",
            `Kafka at ${at} refused the client certificate while ${context.action}: it needs one signed by a CA ` +
              `it trusts, in the Secret named by ${fields.certificate} (${failure.detail})`,
          ];
  return new KafkaAdminError(reason, message, false, { cause });
}

function describe(link: KafkaJsErrorLike): string {
  const message = link.message ?? String(link);
  return link.type === undefined ? message : `${message} (${link.type})`;
}
