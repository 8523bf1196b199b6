// The one way this workspace makes a kafkajs client of a pipeline's Kafka: the admin client of reconciles
// (admin.ts) and the kubectl plugin's consumer and producer share its bounds, its TLS and SASL settings and
// its logging, so a Kafka that does not answer fails the same way, within seconds, everywhere.
import { Kafka, type KafkaConfig, logLevel } from "kafkajs";

export interface KafkaLogEntry {
  level: "error" | "warn";
  namespace: string;
  message: string;
}

/** Where a pipeline's Kafka is and how to log in to it. */
export interface KafkaConnection {
  bootstrapServers: readonly string[];
  /** Passed to kafkajs as they are; whoever builds them has read the pipeline's Secrets. */
  ssl?: NonNullable<KafkaConfig["ssl"]>;
  sasl?: NonNullable<KafkaConfig["sasl"]>;
  /** The spec fields the login came from, named when Kafka rejects it; the workers' fields when absent. */
  loginFields?: LoginFields;
}

export interface LoginFields {
  /** Where the SASL settings are: `.secretRef` and `.mechanism` below it. */
  sasl: string;
  certificate: string;
}

export const workersLoginFields: LoginFields = {
  sasl: "spec.kafka.sasl",
  certificate: "spec.kafka.tls.certSecretRef",
};

export interface KafkaClientOptions extends KafkaConnection {
  clientId: string;
  /** kafkajs's own errors and warnings (retries, lost connections); dropped when absent. */
  onLog?: ((entry: KafkaLogEntry) => void) | undefined;
}

/**
 * kafkajs's defaults (30 s requests, 5 retries up to 30 s apart, nested per layer) can keep a call busy for
 * minutes. These give up within a few seconds: the caller reports the failure (a reconcile looks again later).
 */
const clientTimeouts = {
  connectionTimeout: 3_000,
  authenticationTimeout: 3_000,
  requestTimeout: 8_000,
  retry: { retries: 2, initialRetryTime: 200, maxRetryTime: 2_000 },
} satisfies Partial<KafkaConfig>;

export function kafkaClient(options: KafkaClientOptions): Kafka {
  const { onLog } = options;
  return new Kafka({
    clientId: options.clientId,
    brokers: [...options.bootstrapServers],
    ...clientTimeouts,
    ...(options.ssl === undefined ? {} : { ssl: options.ssl }),
    ...(options.sasl === undefined ? {} : { sasl: options.sasl }),
    // Nothing on stdout: the caller's own output says what matters, and kafkajs's lines go to onLog.
    logLevel: logLevel.WARN,
    logCreator: () => (entry) => {
      // KAFKAJS_LOG_LEVEL in the environment can raise kafkajs's level; only errors and warnings go on.
      if (onLog === undefined || entry.level > logLevel.WARN) return;
      onLog({
        level: entry.level === logLevel.ERROR ? "error" : "warn",
        namespace: entry.namespace,
        message: entry.log.message,
      });
    },
  });
}
