// The worker's configuration: environment variables (what the operator's Deployment sets), each parsed and
// checked at start so a bad value stops the worker with a message naming the variable, never mid-stream.
import { accessSync, constants } from "node:fs";
import { hostname } from "node:os";
import { fileURLToPath } from "node:url";
import { type LogLevel, logLevels } from "../../common/src/logger.ts";
import {
  type SaslMechanism,
  saslMechanisms,
  type WorkerEnvVariable,
  type WorkerIntegerVariable,
  workerIntegerSettings,
} from "../../common/src/worker-env.ts";

/** TLS to the brokers; without caFile the system's CAs are trusted. cert and key come together (mTLS). */
export interface KafkaTlsConfig {
  caFile?: string;
  client?: { certFile: string; keyFile: string };
}

export interface KafkaSaslConfig {
  mechanism: SaslMechanism;
  username: string;
  password: string;
}

export interface WorkerConfig {
  kafka: {
    bootstrapServers: string[];
    clientId: string;
    groupId: string;
    sessionTimeoutMs: number;
    tls?: KafkaTlsConfig;
    sasl?: KafkaSaslConfig;
  };
  topics: { requests: string; responses: string; deadLetter: string };
  model: {
    dir: string;
    maxSequenceLength: number;
    threads: number;
    intraOpThreads: number;
    /** Test-only: see ClassifierOptions.faultFile. */
    faultFile?: string;
  };
  batch: { maxSize: number; maxWaitMs: number };
  retry: { maxAttempts: number; initialBackoffMs: number; maxBackoffMs: number };
  circuitBreaker: { failureThreshold: number; resetTimeoutMs: number };
  limits: { maxMessageBytes: number; maxTextLength: number };
  /** Bytes of fetched records held until answered; 0 derives them from the memory limits (memory-budget.ts). */
  maxInFlightBytes: number;
  httpPort: number;
  shutdownTimeoutMs: number;
  logLevel: LogLevel;
}

type Env = Readonly<Record<string, string | undefined>>;

export const builtInModelDir = fileURLToPath(new URL("../model", import.meta.url));

/** Collects every problem instead of stopping at the first, so one start shows them all. */
class Reader {
  readonly problems: string[] = [];
  constructor(private readonly env: Env) {}

  #raw(name: WorkerEnvVariable): string | undefined {
    const value = this.env[name]?.trim();
    return value === undefined || value === "" ? undefined : value;
  }

  string(name: WorkerEnvVariable, fallback?: string): string {
    const value = this.#raw(name) ?? fallback;
    if (value === undefined) this.problems.push(`${name} is required`);
    return value ?? "";
  }

  /** A number of the contract's table: its default when unset, refused outside its range. */
  integer(name: WorkerIntegerVariable): number {
    const { fallback, min, max } = workerIntegerSettings[name];
    const raw = this.#raw(name);
    if (raw === undefined) return fallback;
    if (!/^-?\d+$/.test(raw)) {
      this.problems.push(`${name} must be a whole number, got '${raw}'`);
      return fallback;
    }
    const value = Number(raw);
    if (value < min || value > max)
      this.problems.push(`${name} must be between ${min} and ${max}, got ${value}`);
    return value;
  }

  bootstrapServers(name: WorkerEnvVariable): string[] {
    const servers = this.string(name)
      .split(",")
      .map((server) => server.trim())
      .filter((server) => server !== "");
    for (const server of servers) {
      const port = Number(server.slice(server.lastIndexOf(":") + 1));
      if (!server.includes(":") || !Number.isInteger(port) || port < 1 || port > 65535) {
        this.problems.push(`${name} must be a comma-separated list of host:port, got '${server}'`);
      }
    }
    return servers;
  }

  /** An optional variable, trimmed; undefined when unset or empty. */
  optional(name: WorkerEnvVariable): string | undefined {
    return this.#raw(name);
  }

  boolean(name: WorkerEnvVariable, fallback: boolean): boolean {
    const raw = this.#raw(name);
    if (raw === undefined) return fallback;
    if (raw !== "true" && raw !== "false") {
      this.problems.push(`${name} must be true or false, got '${raw}'`);
      return fallback;
    }
    return raw === "true";
  }

  /** A path the worker will read at start: checked now, so a missing mount names its variable. */
  readableFile(name: WorkerEnvVariable): string | undefined {
    const path = this.#raw(name);
    if (path === undefined) return undefined;
    try {
      accessSync(path, constants.R_OK);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      this.problems.push(
        `${name} names ${path}, which ${code === "ENOENT" ? "does not exist" : `cannot be read (${code})`}`,
      );
    }
    return path;
  }

  oneOf<T extends string>(name: WorkerEnvVariable, allowed: readonly T[], fallback: T): T {
    const raw = this.#raw(name) ?? fallback;
    if (!(allowed as readonly string[]).includes(raw)) {
      this.problems.push(`${name} must be one of ${allowed.join(", ")}, got '${raw}'`);
      return fallback;
    }
    return raw as T;
  }
}

function kafkaTls(read: Reader): KafkaTlsConfig | undefined {
  const enabled = read.boolean("KAFKA_TLS_ENABLED", false);
  const files = {
    KAFKA_TLS_CA_FILE: read.readableFile("KAFKA_TLS_CA_FILE"),
    KAFKA_TLS_CERT_FILE: read.readableFile("KAFKA_TLS_CERT_FILE"),
    KAFKA_TLS_KEY_FILE: read.readableFile("KAFKA_TLS_KEY_FILE"),
  };
  const given = Object.entries(files).filter(([, path]) => path !== undefined);
  if (!enabled) {
    for (const [name] of given) read.problems.push(`${name} is set but KAFKA_TLS_ENABLED is not true`);
    return undefined;
  }
  const { KAFKA_TLS_CA_FILE: caFile, KAFKA_TLS_CERT_FILE: certFile, KAFKA_TLS_KEY_FILE: keyFile } = files;
  if ((certFile === undefined) !== (keyFile === undefined)) {
    const missing = certFile === undefined ? "KAFKA_TLS_CERT_FILE" : "KAFKA_TLS_KEY_FILE";
    read.problems.push(
      `KAFKA_TLS_CERT_FILE and KAFKA_TLS_KEY_FILE go together (a client certificate and its key): ${missing} is missing`,
    );
  }
  return {
    ...(caFile === undefined ? {} : { caFile }),
    ...(certFile === undefined || keyFile === undefined ? {} : { client: { certFile, keyFile } }),
  };
}

/** The password is never part of a problem: problems are printed. */
function kafkaSasl(read: Reader): KafkaSaslConfig | undefined {
  const mechanism = read.optional("KAFKA_SASL_MECHANISM");
  const username = read.optional("KAFKA_SASL_USERNAME");
  const password = read.optional("KAFKA_SASL_PASSWORD");
  if (mechanism === undefined) {
    for (const [name, value] of [
      ["KAFKA_SASL_USERNAME", username],
      ["KAFKA_SASL_PASSWORD", password],
    ] as const) {
      if (value !== undefined) read.problems.push(`${name} is set but KAFKA_SASL_MECHANISM is not`);
    }
    return undefined;
  }
  const checked = read.oneOf("KAFKA_SASL_MECHANISM", saslMechanisms, "scram-sha-512");
  if (username === undefined)
    read.problems.push("KAFKA_SASL_USERNAME is required when KAFKA_SASL_MECHANISM is set");
  if (password === undefined)
    read.problems.push("KAFKA_SASL_PASSWORD is required when KAFKA_SASL_MECHANISM is set");
  return { mechanism: checked, username: username ?? "", password: password ?? "" };
}

/** Only what is configured: a worker without TLS or SASL has neither member. */
function kafkaSecurity(read: Reader): Pick<WorkerConfig["kafka"], "tls" | "sasl"> {
  const tls = kafkaTls(read);
  const sasl = kafkaSasl(read);
  return { ...(tls === undefined ? {} : { tls }), ...(sasl === undefined ? {} : { sasl }) };
}

/**
 * How often a member tells the group coordinator it is alive: a tenth of the session timeout, so one slow
 * heartbeat never costs the member its partitions, and at most maxHeartbeatIntervalMs.
 */
export function heartbeatIntervalMs(kafka: WorkerConfig["kafka"]): number {
  return Math.min(maxHeartbeatIntervalMs, Math.floor(kafka.sessionTimeoutMs / 10));
}

/**
 * A member learns that its group rebalances only from a heartbeat's answer, and the whole group stops until its
 * last member has rejoined: every second between heartbeats can add a second to every scaling step's pause. A
 * heartbeat is a small request to the coordinator; one a second per worker costs it nothing noticeable.
 */
const maxHeartbeatIntervalMs = 1_000;

/**
 * How long the coordinator waits for every member to rejoin before it drops the missing ones: as long as the
 * session timeout. A member rejoins within a second (request-pipeline.ts's rejoinGraceMs); one that has not
 * rejoined by then is as good as gone, and waiting kafkajs's default minute for it would stop the whole group
 * that long.
 */
export function rebalanceTimeoutMs(kafka: WorkerConfig["kafka"]): number {
  return kafka.sessionTimeoutMs;
}

export type ParsedConfig = { ok: true; config: WorkerConfig } | { ok: false; problems: string[] };

export function parseWorkerConfig(env: Env): ParsedConfig {
  const read = new Reader(env);
  const faultFile = read.optional("MODEL_FAULT_FILE");
  const config: WorkerConfig = {
    kafka: {
      bootstrapServers: read.bootstrapServers("KAFKA_BOOTSTRAP_SERVERS"),
      clientId: read.string("KAFKA_CLIENT_ID", hostname()),
      groupId: read.string("KAFKA_GROUP_ID"),
      sessionTimeoutMs: read.integer("KAFKA_SESSION_TIMEOUT_MS"),
      ...kafkaSecurity(read),
    },
    topics: {
      requests: read.string("TOPIC_REQUESTS"),
      responses: read.string("TOPIC_RESPONSES"),
      deadLetter: read.string("TOPIC_DEAD_LETTER"),
    },
    model: {
      dir: read.string("MODEL_DIR", builtInModelDir),
      maxSequenceLength: read.integer("MODEL_MAX_SEQUENCE_LENGTH"),
      threads: read.integer("MODEL_THREADS"),
      intraOpThreads: read.integer("MODEL_INTRA_OP_THREADS"),
      ...(faultFile === undefined ? {} : { faultFile }),
    },
    batch: {
      maxSize: read.integer("BATCH_MAX_SIZE"),
      maxWaitMs: read.integer("BATCH_MAX_WAIT_MS"),
    },
    retry: {
      maxAttempts: read.integer("RETRY_MAX_ATTEMPTS"),
      initialBackoffMs: read.integer("RETRY_INITIAL_BACKOFF_MS"),
      maxBackoffMs: read.integer("RETRY_MAX_BACKOFF_MS"),
    },
    circuitBreaker: {
      failureThreshold: read.integer("BREAKER_FAILURE_THRESHOLD"),
      resetTimeoutMs: read.integer("BREAKER_RESET_TIMEOUT_MS"),
    },
    limits: {
      maxMessageBytes: read.integer("MAX_MESSAGE_BYTES"),
      maxTextLength: read.integer("MAX_TEXT_LENGTH"),
    },
    maxInFlightBytes: read.integer("MAX_IN_FLIGHT_BYTES"),
    httpPort: read.integer("HTTP_PORT"),
    shutdownTimeoutMs: read.integer("SHUTDOWN_TIMEOUT_MS"),
    logLevel: read.oneOf("LOG_LEVEL", logLevels, "info"),
  };
  if (config.retry.initialBackoffMs > config.retry.maxBackoffMs) {
    read.problems.push(
      `RETRY_INITIAL_BACKOFF_MS (${config.retry.initialBackoffMs}) must not exceed RETRY_MAX_BACKOFF_MS (${config.retry.maxBackoffMs})`,
    );
  }
  const topics = Object.values(config.topics).filter((topic) => topic !== "");
  if (new Set(topics).size !== topics.length) {
    read.problems.push(
      "TOPIC_REQUESTS, TOPIC_RESPONSES and TOPIC_DEAD_LETTER must be three different topics",
    );
  }
  return read.problems.length > 0 ? { ok: false, problems: read.problems } : { ok: true, config };
}
