// The operator's redrive side, assembled: the SentimentRedrives' watch (in every replica, so a new leader starts
// with every redrive known), and the supervisor that runs them on the leader only (see runner.ts for why).
import type { CustomObjectsApi, KubeConfig, ObjectCache } from "@kubernetes/client-node";
import { watchOwnKind } from "../controller/watches.ts";
import type { SecretReader } from "../kafka/credentials.ts";
import type { SentimentPipeline } from "../pipeline.ts";
import { redrivePlural, type SentimentRedrive } from "./redrive.ts";
import { RedriveRunner } from "./runner.ts";
import { RedriveSupervisor } from "./supervisor.ts";

export interface RedrivesOptions {
  kubeConfig: KubeConfig;
  customObjects: CustomObjectsApi;
  namespaces: readonly string[];
  pipelines: Pick<ObjectCache<SentimentPipeline>, "get">;
  readSecret: SecretReader;
  log: (level: "info" | "warn" | "error", message: string, fields?: Record<string, unknown>) => void;
}

export interface Redrives {
  synced(): boolean;
  /** Leadership won: run the active redrives. */
  lead(): void;
  /** Leadership lost or the operator stopping: stops every runner, then the watch. */
  stop(): Promise<void>;
}

export async function startRedrives(options: RedrivesOptions): Promise<Redrives> {
  const { kubeConfig, customObjects, namespaces, pipelines, readSecret, log } = options;
  let list: () => readonly SentimentRedrive[] = () => [];
  const supervisor = new RedriveSupervisor(
    () => list(),
    (redrive) =>
      new RedriveRunner(redrive, {
        customObjects,
        pipelines,
        readSecret,
        log,
        // Warnings, as for the reconciles: kafkajs logs every retry as an error.
        onKafkaLog: (entry, key) =>
          log("warn", entry.message, {
            redrive: key,
            kafkajs: { level: entry.level, namespace: entry.namespace },
          }),
      }),
  );
  const watched = await watchOwnKind<SentimentRedrive>(
    { kubeConfig, customObjects },
    namespaces,
    redrivePlural,
    () => supervisor.sync(),
    (error) => log("warn", "watch of SentimentRedrives failed; restarting it", { error: String(error) }),
  );
  list = () => watched.cache.list();
  return {
    synced: () => watched.synced(),
    lead: () => supervisor.start(),
    stop: async () => {
      await supervisor.stopAll();
      await watched.stop();
    },
  };
}
