// A worker run locally instead of in a pod: its command line, and its environment either on three topics (tests
// and the bench: the cluster, its own group, no fixed HTTP port, quiet logs, and the caller's MODEL_* and BATCH_*
// variables passed through, so a run can try another model or other batching without code changes) or as a
// Deployment's pod would get it (the demo, and tests where kwok stands in for the kubelet).
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import type { V1Deployment } from "@kubernetes/client-node";
import { repoRoot } from "./dirs.ts";

/** Node's arguments that run the worker from this checkout's source, as its image runs it from the build. */
export const workerArgs = ["--import", "tsx", join(repoRoot, "worker", "src", "main.ts")];

/**
 * A worker in a process of its own, configured by `env` over this process's environment; stderr shown. `args`
 * runs another entry point instead (the scaling bench's worker on another Kafka client).
 */
export function startWorkerProcess(
  env: Record<string, string>,
  stdout: "inherit" | "ignore",
  args: readonly string[] = workerArgs,
): ChildProcess {
  return spawn(process.execPath, args, {
    cwd: repoRoot,
    stdio: ["ignore", stdout, "inherit"],
    env: { ...process.env, ...env },
  });
}

export interface WorkerTopics {
  requests: string;
  responses: string;
  deadLetter: string;
}

/** The consumer group of a locally run worker unless its caller names another. */
export function defaultWorkerGroupId(topics: WorkerTopics): string {
  return `group-${topics.requests}`;
}

export function localWorkerEnv(
  bootstrapServers: readonly string[],
  topics: WorkerTopics,
  groupId = defaultWorkerGroupId(topics),
): Record<string, string> {
  const passed = Object.entries(process.env).filter(
    (entry): entry is [string, string] => /^(MODEL|BATCH)_/.test(entry[0]) && entry[1] !== undefined,
  );
  return {
    KAFKA_BOOTSTRAP_SERVERS: bootstrapServers.join(","),
    KAFKA_GROUP_ID: groupId,
    TOPIC_REQUESTS: topics.requests,
    TOPIC_RESPONSES: topics.responses,
    TOPIC_DEAD_LETTER: topics.deadLetter,
    HTTP_PORT: "0",
    LOG_LEVEL: "error",
    ...Object.fromEntries(passed),
  };
}

/**
 * The environment a worker pod of `deployment` would get. Plain values are taken as they are; the one
 * downward-API value the operator sets (KAFKA_CLIENT_ID from the pod's name) becomes `podName`.
 */
export function workerEnvOf(deployment: V1Deployment, podName: string): Record<string, string> {
  const containers = deployment.spec?.template.spec?.containers ?? [];
  const worker = containers.find((container) => container.name === "worker") ?? containers[0];
  const env: Record<string, string> = {};
  for (const variable of worker?.env ?? []) {
    if (variable.value !== undefined) env[variable.name] = variable.value;
    else if (variable.valueFrom?.fieldRef?.fieldPath === "metadata.name") env[variable.name] = podName;
  }
  return env;
}
