// One error type for everything the Kafka layer can fail with, carrying what a reconcile needs: a CamelCase
// reason for the condition, a sentence a person can act on, and whether trying again later can help.

export type KafkaAdminReason =
  /** No broker answered: down, wrong address, a firewall, or TLS that does not match. */
  | "KafkaUnreachable"
  /** A broker answered and refused or failed an operation. */
  | "TopicOperationFailed"
  /** Topics exist but some partition has no leader or too few in-sync replicas yet. */
  | "TopicNotReady";

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

/** The parts of a kafkajs error this module reads; kafkajs's classes are not visible to ESM as named exports. */
interface KafkaJsErrorLike {
  name?: string;
  message?: string;
  type?: string;
  retriable?: boolean;
  cause?: unknown;
  errors?: unknown[];
}

const connectionErrors = new Set(["KafkaJSConnectionError", "KafkaJSConnectionClosedError"]);

/**
 * Turns whatever kafkajs threw into a KafkaAdminError. `connecting`: the failure happened before any broker
 * answered, so apart from a rejected login it means no broker could be reached. `lastLoggedError`: what kafkajs
 * last logged as an error, added when it says something the thrown error does not.
 */
export function toKafkaAdminError(
  error: unknown,
  context: {
    servers: readonly string[];
    action: string;
    connecting: boolean;
    lastLoggedError?: string | undefined;
  },
): KafkaAdminError {
  if (error instanceof KafkaAdminError) return error;
  const chain = flatten(error);
  const ends = chain.filter((link) => link.cause === undefined && link.errors === undefined);
  const leaves = ends.length > 0 ? ends : chain.slice(0, 1);
  const details = new Set(leaves.map(describe));
  const logged = context.lastLoggedError;
  if (logged !== undefined && ![...details].some((known) => logged.includes(known))) details.add(logged);
  const detail = [...details].join("; ");
  const loginRejected = chain.some((link) => link.name === "KafkaJSSASLAuthenticationError");
  const connectionLost = chain.some((link) => connectionErrors.has(link.name ?? ""));
  if (!loginRejected && (context.connecting || connectionLost)) {
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
    !loginRejected && leaves.some((leaf) => leaf.retriable === true),
    { cause: error },
  );
}

/** The error and everything it wraps: kafkajs nests causes and aggregates per-topic errors. */
function flatten(error: unknown): KafkaJsErrorLike[] {
  if (typeof error !== "object" || error === null) return [{ message: String(error) }];
  const link = error as KafkaJsErrorLike;
  return [
    link,
    ...(link.cause === undefined ? [] : flatten(link.cause)),
    ...(link.errors ?? []).flatMap(flatten),
  ];
}

function describe(link: KafkaJsErrorLike): string {
  const message = link.message ?? String(link);
  return link.type === undefined ? message : `${message} (${link.type})`;
}
