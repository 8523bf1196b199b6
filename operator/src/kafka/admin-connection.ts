// One connected kafkajs admin client of one Kafka with one set of credentials: owned by a single TopicAdmin (the
// kubectl plugin), or shared by every TopicAdmin of the operator that talks to that Kafka as that user
// (admin-pool.ts), so a reconcile or a metrics read costs requests on an open connection rather than a TCP, TLS
// and SASL handshake each.
//
// Kept long, a kafkajs admin would refresh the metadata of every topic it was ever asked about on each later
// refresh: thousands of topics in each request, and a failure once someone deletes one of them. So each topic is
// counted while a TopicAdmin uses it and forgotten once none does.
import type { Admin, Kafka } from "kafkajs";
import { type KafkaConnection, type KafkaLogEntry, kafkaClient } from "./client.ts";
import { toKafkaAdminError } from "./errors.ts";
import { type AdminCluster, adminWithCluster } from "./kafkajs-cluster.ts";

export interface AdminConnectionOptions extends KafkaConnection {
  clientId?: string;
  /** kafkajs's own errors and warnings (retries, lost connections); dropped when absent. */
  onLog?: (entry: KafkaLogEntry) => void;
  /** Bound on connecting and on each call except waitUntilUsable; default 10 s. */
  timeoutMs?: number;
}

export const defaultTimeoutMs = 10_000;

export class AdminConnection {
  /** What it was made with: a connection of the same Kafka and credentials is made from it. */
  readonly settings: AdminConnectionOptions;
  readonly servers: readonly string[];
  readonly kafka: Kafka;
  readonly timeoutMs: number;
  #connecting: Promise<{ admin: Admin; cluster: AdminCluster }> | undefined;
  readonly #topicUses = new Map<string, number>();
  /** kafkajs's last logged error: it can say more than what it throws ("Request ApiVersions timed out"). */
  #lastLoggedError: string | undefined;

  constructor(options: AdminConnectionOptions) {
    this.settings = options;
    this.servers = options.bootstrapServers;
    this.timeoutMs = options.timeoutMs ?? defaultTimeoutMs;
    const onLog = options.onLog;
    this.kafka = kafkaClient({
      ...options,
      clientId: options.clientId ?? "kubesentiment-operator",
      onLog: (entry) => {
        if (entry.level === "error") this.#lastLoggedError = entry.message;
        onLog?.(entry);
      },
    });
  }

  /** The connected client and its cluster; callers at the same time share one connection attempt, and each its failure. */
  async connected(action: string): Promise<{ admin: Admin; cluster: AdminCluster }> {
    const connecting = this.#connecting ?? this.#connect();
    this.#connecting = connecting;
    try {
      return await connecting;
    } catch (error) {
      if (this.#connecting === connecting) this.#connecting = undefined;
      throw toKafkaAdminError(error, {
        servers: this.servers,
        action,
        connecting: true,
        lastLoggedError: this.#lastLoggedError,
        loginFields: this.settings.loginFields,
      });
    }
  }

  async #connect(): Promise<{ admin: Admin; cluster: AdminCluster }> {
    const connected = adminWithCluster(this.kafka);
    try {
      // kafkajs can count a broker that accepted the connection but never answered as connected, and fail
      // later with "Broker not connected"; a broker counts as reachable here once it has answered a request.
      await bounded(
        connected.admin.connect().then(() => connected.admin.describeCluster()),
        this.timeoutMs,
        "connecting",
        () => {},
      );
      return connected;
    } catch (error) {
      await connected.admin.disconnect().catch(() => {});
      throw error;
    }
  }

  /** `topics` are in use until release(): their metadata is kept. */
  hold(topics: Iterable<string>): void {
    for (const topic of topics) this.#topicUses.set(topic, (this.#topicUses.get(topic) ?? 0) + 1);
  }

  /** Ends a use of `topics`; those no one uses any more are no longer refreshed. */
  async release(topics: Iterable<string>): Promise<void> {
    const unused: string[] = [];
    for (const topic of topics) {
      const uses = (this.#topicUses.get(topic) ?? 1) - 1;
      if (uses > 0) this.#topicUses.set(topic, uses);
      else {
        this.#topicUses.delete(topic);
        unused.push(topic);
      }
    }
    const connecting = this.#connecting;
    if (connecting === undefined || unused.length === 0) return;
    const { cluster } = await connecting.catch(() => ({ cluster: undefined }));
    for (const topic of unused) cluster?.targetTopics.delete(topic);
  }

  /** Ends the connection; the next call connects afresh (after a broker failure, a timeout, or for good). */
  async disconnect(): Promise<void> {
    const connecting = this.#connecting;
    this.#connecting = undefined;
    const connected = await connecting?.catch(() => undefined);
    await connected?.admin.disconnect();
  }
}

/**
 * Bounds `work` by `timeoutMs`: kafkajs's own bounds nest (a call retries, and so does each metadata refresh
 * inside it), so the total is bounded here too. On expiry `onExpiry` runs (dropping the client ends what it still
 * has in flight) and the error is retriable: a slow answer may come in time on the next reconcile.
 */
export async function bounded<T>(
  work: Promise<T>,
  timeoutMs: number,
  action: string,
  onExpiry: () => void,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expiry = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      onExpiry();
      reject(
        Object.assign(new Error(`${action} took longer than ${timeoutMs / 1000} s`), { retriable: true }),
      );
    }, timeoutMs);
  });
  try {
    return await Promise.race([work, expiry]);
  } finally {
    clearTimeout(timer);
  }
}
