// Why a pipeline's worker pods do not come up, from the pods as the kubelet and the scheduler report them: the
// one failure that tells a person most, for the WorkersAvailable condition. A container's termination message is
// the tail of its log (terminationMessagePolicy FallbackToLogsOnError, render/deployment.ts), whose last line is
// the reason the worker and fetch-model print before they exit non-zero.
import type { V1ContainerState, V1ContainerStatus, V1Pod } from "@kubernetes/client-node";

export interface PodFailure {
  pod: string;
  /** Undefined when no container is to blame (the pod was never scheduled). */
  container: string | undefined;
  /** Kubernetes' own word: CrashLoopBackOff, CreateContainerConfigError, OOMKilled, Error, Unschedulable, ... */
  reason: string;
  /** A sentence naming the container: "init container fetch-model failed (exit 1): SHA-256 mismatch ...". */
  message: string;
}

/** Longer text from a pod (a log line, a scheduler's verdict over many nodes) is cut to this many characters. */
export const maxDetailLength = 300;

/** Waiting reasons of a container on its normal way to running. */
const startingReasons = new Set(["ContainerCreating", "PodInitializing"]);

function bounded(text: string): string {
  return text.length <= maxDetailLength ? text : `${text.slice(0, maxDetailLength - 1)}…`;
}

/** A JSON log line's `message` and `error` (the workers' log format), or undefined for any other line. */
function jsonLogReason(line: string): string | undefined {
  if (!line.startsWith("{")) return undefined;
  let entry: unknown;
  try {
    entry = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof entry !== "object" || entry === null) return undefined;
  const { message, error } = entry as { message?: unknown; error?: unknown };
  const parts = [message, error].filter((part): part is string => typeof part === "string" && part !== "");
  return parts.length === 0 ? undefined : parts.join(": ");
}

/**
 * The line of a log tail that says why a process ended: the last one that is not blank, a stack frame or Node's
 * version trailer (so an uncaught exception gives its "Error: ..." line); a JSON log line gives its message.
 */
export function lastMeaningfulLine(text: string): string | undefined {
  const line = text
    .split("\n")
    .findLast((candidate) => !/^\s*$|^\s+at |^Node\.js v\d/.test(candidate))
    ?.trim();
  return line === undefined ? undefined : (jsonLogReason(line) ?? line);
}

/** What a container's termination message says, without the "<container>: " its program puts first. */
function terminationDetail(container: string, message: string | undefined): string {
  const line = lastMeaningfulLine(message ?? "");
  if (line === undefined) return "";
  const prefix = `${container}: `;
  return `: ${bounded(line.startsWith(prefix) ? line.slice(prefix.length) : line)}`;
}

/** A non-zero exit of `state`: its reason and what to say after "failed", given a note on what came after. */
function failedExit(container: string, state: V1ContainerState | undefined) {
  const terminated = state?.terminated;
  if (terminated === undefined || terminated.exitCode === 0) return undefined;
  const reason = terminated.reason ?? "Error";
  const exit = [`exit ${terminated.exitCode}`, ...(reason === "Error" ? [] : [reason])].join(", ");
  const detail = terminationDetail(container, terminated.message);
  return {
    reason,
    text: (after?: string) => `failed (${after === undefined ? exit : `${exit}; ${after}`})${detail}`,
  };
}

/** What keeps one container of a pod from running, or undefined when nothing does (yet). */
function containerFailure(
  pod: string,
  status: V1ContainerStatus,
  kind: "init container" | "container",
): PodFailure | undefined {
  if (status.ready) return undefined;
  const { name } = status;
  const failure = (reason: string, text: string): PodFailure => ({
    pod,
    container: name,
    reason,
    message: `${kind} ${name} ${text}`,
  });
  const exited = failedExit(name, status.state);
  if (exited !== undefined) return failure(exited.reason, exited.text());
  const last = failedExit(name, status.lastState);
  const waiting = status.state?.waiting;
  const waitingReason = waiting?.reason;
  if (waitingReason !== undefined && !startingReasons.has(waitingReason)) {
    // A crash loop's own message ("back-off 5m0s restarting failed container ...") says less than the exit.
    if (last !== undefined) return failure(waitingReason, last.text(`now ${waitingReason}`));
    const detail = waiting?.message === undefined ? "" : `: ${bounded(waiting.message)}`;
    return failure(waitingReason, `cannot start (${waitingReason})${detail}`);
  }
  if (status.state?.running !== undefined && last !== undefined) {
    return failure(last.reason, last.text("restarted"));
  }
  return undefined;
}

/** What keeps a pod from being ready: its first failing init container, else a container, else its scheduling. */
function podFailure(pod: V1Pod): PodFailure | undefined {
  const name = pod.metadata?.name ?? "";
  const { status } = pod;
  const containers = [
    ...(status?.initContainerStatuses ?? []).map((s) => containerFailure(name, s, "init container")),
    ...(status?.containerStatuses ?? []).map((s) => containerFailure(name, s, "container")),
  ];
  const failing = containers.find((failure) => failure !== undefined);
  if (failing !== undefined) return failing;
  const scheduled = status?.conditions?.find((condition) => condition.type === "PodScheduled");
  if (scheduled?.status !== "False" || scheduled.reason !== "Unschedulable") return undefined;
  const detail = scheduled.message === undefined ? "" : `: ${bounded(scheduled.message)}`;
  return {
    pod: name,
    container: undefined,
    reason: "Unschedulable",
    message: `cannot be scheduled${detail}`,
  };
}

function isReady(pod: V1Pod): boolean {
  return pod.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;
}

/** A pod being deleted, or done for good (evicted), has been replaced: its successor tells the present. */
function isCurrent(pod: V1Pod): boolean {
  const phase = pod.status?.phase;
  return pod.metadata?.deletionTimestamp === undefined && phase !== "Failed" && phase !== "Succeeded";
}

function createdAt(pod: V1Pod): number {
  const created = pod.metadata?.creationTimestamp;
  return created === undefined ? 0 : new Date(created).getTime();
}

/** The newest current pod not ready yet, or undefined when every current pod is ready (or there is none). */
export function newestUnreadyPod(pods: readonly V1Pod[]): V1Pod | undefined {
  return unreadyNewestFirst(pods)[0];
}

function unreadyNewestFirst(pods: readonly V1Pod[]): V1Pod[] {
  return pods
    .filter((pod) => isCurrent(pod) && !isReady(pod))
    .toSorted((a, b) => createdAt(b) - createdAt(a));
}

/**
 * The failure of the newest not-ready pod that has one (a roll-out's new pods before the old ones), or
 * undefined when no pod is failing: they are ready, or on their normal way there.
 */
export function mostTellingPodFailure(pods: readonly V1Pod[]): PodFailure | undefined {
  return unreadyNewestFirst(pods)
    .map(podFailure)
    .find((failure) => failure !== undefined);
}
