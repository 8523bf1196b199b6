// The worker's configuration contract: the environment variables the worker reads at start and the operator
// renders into its Deployment, with each number's default and accepted range. One table for both sides, so a
// variable renamed or a range narrowed in the worker cannot leave the operator rendering what the worker refuses.

/** A whole-number setting: used when unset, and refused at start outside [min, max]. */
export interface IntegerSetting {
  readonly fallback: number;
  readonly min: number;
  readonly max: number;
}

export const workerIntegerSettings = {
  /** How soon the group notices a member that died without leaving; the broker allows 6 s to 30 min. */
  KAFKA_SESSION_TIMEOUT_MS: { fallback: 30_000, min: 6_000, max: 1_800_000 },
  MODEL_MAX_SEQUENCE_LENGTH: { fallback: 128, min: 8, max: 8192 },
  MODEL_THREADS: { fallback: 1, min: 1, max: 64 },
  MODEL_INTRA_OP_THREADS: { fallback: 1, min: 1, max: 64 },
  BATCH_MAX_SIZE: { fallback: 256, min: 1, max: 4096 },
  BATCH_MAX_WAIT_MS: { fallback: 0, min: 0, max: 10_000 },
  RETRY_MAX_ATTEMPTS: { fallback: 3, min: 1, max: 100 },
  RETRY_INITIAL_BACKOFF_MS: { fallback: 100, min: 1, max: 600_000 },
  RETRY_MAX_BACKOFF_MS: { fallback: 10_000, min: 1, max: 600_000 },
  BREAKER_FAILURE_THRESHOLD: { fallback: 5, min: 1, max: 1000 },
  BREAKER_RESET_TIMEOUT_MS: { fallback: 30_000, min: 100, max: 3_600_000 },
  MAX_MESSAGE_BYTES: { fallback: 1_048_576, min: 64, max: 100 * 1_048_576 },
  MAX_TEXT_LENGTH: { fallback: 10_000, min: 1, max: 1_000_000 },
  /**
   * Bytes of fetched records held until answered; 0 (the default) takes an eighth of the container's memory limit
   * or of V8's heap limit, whichever is smaller. At least MAX_MESSAGE_BYTES is always held.
   */
  MAX_IN_FLIGHT_BYTES: { fallback: 0, min: 0, max: 64 * 1024 * 1_048_576 },
  HTTP_PORT: { fallback: 8080, min: 0, max: 65535 },
  SHUTDOWN_TIMEOUT_MS: { fallback: 25_000, min: 1000, max: 600_000 },
} as const satisfies Record<string, IntegerSetting>;

export type WorkerIntegerVariable = keyof typeof workerIntegerSettings;

/** Every variable the worker reads; anything else in its environment is ignored. */
export type WorkerEnvVariable =
  | WorkerIntegerVariable
  | "KAFKA_BOOTSTRAP_SERVERS"
  | "KAFKA_CLIENT_ID"
  | "KAFKA_GROUP_ID"
  | "KAFKA_TLS_ENABLED"
  | "KAFKA_TLS_CA_FILE"
  | "KAFKA_TLS_CERT_FILE"
  | "KAFKA_TLS_KEY_FILE"
  | "KAFKA_SASL_MECHANISM"
  | "KAFKA_SASL_USERNAME"
  | "KAFKA_SASL_PASSWORD"
  | "TOPIC_REQUESTS"
  | "TOPIC_RESPONSES"
  | "TOPIC_DEAD_LETTER"
  | "MODEL_DIR"
  /** Test-only fault injection (see ClassifierOptions.faultFile); never rendered by the operator. */
  | "MODEL_FAULT_FILE"
  | "LOG_LEVEL";

/** KAFKA_SASL_MECHANISM's values. */
export const saslMechanisms = ["scram-sha-512", "scram-sha-256"] as const;
export type SaslMechanism = (typeof saslMechanisms)[number];

/**
 * The model fetcher inside the worker image, relative to its WORKDIR (/app): the Dockerfile copies the
 * compiled worker/src there, so worker/src/model/fetch-model.ts runs as this file in the operator's init
 * container.
 */
export const fetchModelScript = "worker/src/model/fetch-model.js";
