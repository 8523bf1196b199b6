// The other Kafka client the scaling bench measures: @confluentinc/kafka-javascript (librdkafka underneath, with a
// KafkaJS-compatible API), installed on demand into the cache rather than into package.json. Its prebuilt binary
// is fetched from outside the registries, so here npm builds librdkafka from source (minutes of CPU on every clean
// install); linked dynamically, that build uses the system's OpenSSL and zlib instead of downloading their
// sources too (zstd, curl and SASL are left out; the bench's plaintext broker needs none of them).
import { existsSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import type { EachBatchPayload, IHeaders, KafkaMessage } from "kafkajs";
import { HarnessError } from "../harness/cli.ts";
import { run } from "../harness/commands.ts";
import { cacheDir } from "../harness/dirs.ts";

const packageName = "@confluentinc/kafka-javascript";
export const confluentVersion = "1.10.1";

/** What the bench uses of a batch the confluent client hands to eachBatch: kafkajs's shape, less its extras. */
export interface ConfluentBatchPayload
  extends Pick<
    EachBatchPayload,
    "resolveOffset" | "heartbeat" | "pause" | "commitOffsetsIfNecessary" | "isRunning" | "isStale"
  > {
  batch: Omit<EachBatchPayload["batch"], "messages"> & {
    messages: (Omit<KafkaMessage, "headers" | "size"> & { headers?: IHeaders })[];
  };
}

/** The part of the client's KafkaJS-compatible consumer the bench uses. */
export interface ConfluentConsumer {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  subscribe(subscription: { topics: string[] }): Promise<void>;
  run(config: {
    eachBatchAutoResolve?: boolean;
    partitionsConsumedConcurrently?: number;
    eachBatch: (payload: ConfluentBatchPayload) => Promise<void>;
  }): Promise<void>;
  pause(topics: { topic: string; partitions?: number[] }[]): void;
  resume(topics: { topic: string; partitions?: number[] }[]): void;
  commitOffsets(offsets?: { topic: string; partition: number; offset: string }[]): Promise<void>;
}

/** A partition in a rebalance callback. */
export interface ConfluentTopicPartition {
  topic: string;
  partition: number;
}

export interface ConfluentAdmin {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  describeGroups(groupIds: string[]): Promise<{
    groups: { groupId: string; state: number; members: unknown[]; error?: { message: string } | null }[];
  }>;
}

/** The part of the module's `KafkaJS` namespace the bench uses. */
export interface ConfluentKafkaJS {
  Kafka: new (config: {
    kafkaJS: { brokers: string[]; clientId?: string; logLevel?: number };
  }) => {
    consumer(config: Record<string, unknown>): ConfluentConsumer;
    admin(): ConfluentAdmin;
  };
  logLevel: { NOTHING: number; ERROR: number; WARN: number };
  ErrorCodes: { ERR__ASSIGN_PARTITIONS: number; ERR__REVOKE_PARTITIONS: number };
  ConsumerGroupStates: Record<string, number> & { STABLE: number };
  PartitionAssignors: { cooperativeSticky: string };
}

/** Where the client is installed: a directory of its own under the cache, per version. */
function installDir(): string {
  return cacheDir(join("confluent-kafka-javascript", confluentVersion));
}

/** Installs the client into the cache unless its native module is there already (a build takes minutes). */
export function installConfluentClient(say: (line: string) => void): void {
  const dir = installDir();
  const binding = join(
    dir,
    "node_modules",
    packageName,
    "build",
    "Release",
    "confluent-kafka-javascript.node",
  );
  if (existsSync(binding)) return;
  say(`installing ${packageName}@${confluentVersion} into ${dir} (librdkafka is built from source)…`);
  writeFileSync(join(dir, "package.json"), `${JSON.stringify({ private: true })}\n`);
  run(
    "npm",
    [
      "install",
      "--no-save",
      "--no-audit",
      "--no-fund",
      "--loglevel=error",
      `${packageName}@${confluentVersion}`,
    ],
    {
      cwd: dir,
      env: { ...process.env, CKJS_LINKING: "dynamic", ONNXRUNTIME_NODE_INSTALL: "skip" },
      timeoutMs: 1_800_000,
    },
  );
}

/** The installed client's KafkaJS-compatible namespace; installConfluentClient must have run. */
export function loadConfluentKafkaJS(): ConfluentKafkaJS {
  const require = createRequire(join(installDir(), "package.json"));
  let loaded: { KafkaJS?: ConfluentKafkaJS };
  try {
    loaded = require(packageName) as { KafkaJS?: ConfluentKafkaJS };
  } catch (error) {
    throw new HarnessError(
      `${packageName} could not be loaded from ${installDir()} (${(error as Error).message}); ` +
        "run the bench with --client confluent to install it",
    );
  }
  if (typeof loaded.KafkaJS?.Kafka !== "function") {
    throw new HarnessError(
      `${packageName} in ${installDir()} has no KafkaJS.Kafka: not the version expected`,
    );
  }
  return loaded.KafkaJS;
}
