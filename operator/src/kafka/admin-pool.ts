// The operator's admin connections, one per Kafka and set of credentials, shared by every reconcile and metrics
// read of the pipelines that use them (see admin-connection.ts). A connection nobody has used for a while is
// closed: a pipeline that moved to other brokers or credentials leaves its old one behind, and the key of new
// credentials (a rotated password) is a new connection, so a wrong one is reported as it would be on its own.
import { createHash } from "node:crypto";
import { TopicAdmin } from "./admin.ts";
import { AdminConnection } from "./admin-connection.ts";
import type { KafkaConnection, KafkaLogEntry } from "./client.ts";

/** kafkajs's own errors and warnings, with the bootstrap servers of the Kafka they come from. */
export type KafkaLog = (entry: KafkaLogEntry, kafka: string) => void;

export interface AdminPoolOptions {
  onLog?: KafkaLog | undefined;
  /** How long a connection stays open with no one using it; default 2 minutes, past the resync period. */
  idleMs?: number;
}

const defaultIdleMs = 120_000;

/**
 * Which connection a Kafka connection setting uses: the same brokers (in any order) with the same credentials.
 * The credentials enter as a hash, so the key can be logged or kept without holding a password.
 */
export function connectionKey(connection: KafkaConnection): string {
  const servers = [...new Set(connection.bootstrapServers)].sort().join(",");
  const credentials = createHash("sha256")
    // Buffers (certificates, keys) serialize as their bytes. The login's fields are part of it, so a rejected
    // login is reported with the fields of the pipelines that use it.
    .update(
      JSON.stringify({
        ssl: connection.ssl ?? null,
        sasl: connection.sasl ?? null,
        loginFields: connection.loginFields ?? null,
      }),
    )
    .digest("hex");
  return `${servers}#${credentials}`;
}

interface Pooled {
  connection: AdminConnection;
  users: number;
  idle: NodeJS.Timeout | undefined;
}

export class AdminPool {
  readonly #connections = new Map<string, Pooled>();
  readonly #idleMs: number;
  readonly #onLog: KafkaLog | undefined;

  constructor(options: AdminPoolOptions = {}) {
    this.#idleMs = options.idleMs ?? defaultIdleMs;
    this.#onLog = options.onLog;
  }

  /** A TopicAdmin on the shared connection for `connection`; close() it when done (it leaves the connection open). */
  lease(connection: KafkaConnection): TopicAdmin {
    const key = connectionKey(connection);
    const pooled = this.#connections.get(key) ?? this.#open(key, connection);
    clearTimeout(pooled.idle);
    pooled.idle = undefined;
    pooled.users++;
    return new TopicAdmin(pooled.connection, async () => {
      pooled.users--;
      if (pooled.users > 0) return;
      // Closed while this lease was out: its last use ends what that use may have reopened.
      if (this.#connections.get(key) !== pooled) return this.#drop(key, pooled);
      pooled.idle = setTimeout(() => void this.#drop(key, pooled), this.#idleMs);
      pooled.idle.unref();
    });
  }

  /** How many connections are open or opening. */
  get size(): number {
    return this.#connections.size;
  }

  /** Closes every connection; a lease still out may reconnect, and its close() then ends that connection. */
  async close(): Promise<void> {
    await Promise.all([...this.#connections].map(([key, pooled]) => this.#drop(key, pooled)));
  }

  #open(key: string, connection: KafkaConnection): Pooled {
    const servers = connection.bootstrapServers.join(",");
    const onLog = this.#onLog;
    const pooled: Pooled = {
      connection: new AdminConnection({
        ...connection,
        ...(onLog === undefined ? {} : { onLog: (entry: KafkaLogEntry) => onLog(entry, servers) }),
      }),
      users: 0,
      idle: undefined,
    };
    this.#connections.set(key, pooled);
    return pooled;
  }

  async #drop(key: string, pooled: Pooled): Promise<void> {
    clearTimeout(pooled.idle);
    if (this.#connections.get(key) === pooled) this.#connections.delete(key);
    await pooled.connection.disconnect().catch(() => {});
  }
}
