// Where the CPU of a drain or an offered load went, read from Linux's /proc: the worker's main thread (and how long
// it was ready to run but waited for a core), the offered load's client thread, the process's other threads (the
// classifier thread, V8's GC helpers), the broker, and the machine. On a 2-core machine that runs the broker and
// the client too, this is what bounds (b) against (a), and the latency at a load.
import { existsSync, readdirSync, readFileSync } from "node:fs";

/** Clock ticks per second of /proc/<pid>/stat's utime and stime (USER_HZ, 100 on Linux). */
const ticksPerSecond = 100;

export interface CpuSnapshot {
  /** Nanoseconds on a core and waiting in a run queue, per thread id of this process. */
  readonly threads: ReadonlyMap<number, { readonly runNs: number; readonly waitNs: number }>;
  /** CPU seconds of the broker's process, all threads. */
  readonly brokerSeconds: number;
  /** The machine's busy time from /proc/stat, in seconds summed over its cores. */
  readonly machineBusySeconds: number;
  /** When the snapshot was taken, in seconds on a monotonic clock. */
  readonly atSeconds: number;
}

/**
 * Per message answered. Shares of wall time are left out on purpose: the snapshots' window also holds the group
 * join and the poll that saw the last commit, while CPU and run-queue time per message are what the drain cost.
 */
export interface CpuSplit {
  /** The main thread: CPU µs per message, and µs it was ready to run but waited for a core. */
  readonly mainUsPerMsg: number;
  readonly mainRunQueueUsPerMsg: number;
  /** The offered load's client thread, CPU µs per message; 0 when the split was not told of one. */
  readonly clientUsPerMsg: number;
  /** Every other thread of this process together (classifier thread, GC helpers), CPU µs per message. */
  readonly otherThreadsUsPerMsg: number;
  readonly brokerUsPerMsg: number;
  /** The whole machine's CPU µs per message, and the rate its cores could sustain at that cost. */
  readonly machineUsPerMsg: number;
  readonly machineCeilingMsgsPerS: number;
  /** The share of the machine's cores that was busy between the snapshots, 0 to 1. */
  readonly machineBusyShare: number;
}

/** "run_ns wait_ns timeslices" of /proc/.../schedstat. */
export function parseSchedstat(text: string): { runNs: number; waitNs: number } {
  const [run, wait] = text.trim().split(/\s+/).map(Number);
  if (run === undefined || wait === undefined || Number.isNaN(run) || Number.isNaN(wait)) {
    throw new Error(`schedstat: expected "run_ns wait_ns timeslices", got "${text.trim()}"`);
  }
  return { runNs: run, waitNs: wait };
}

/** utime + stime of /proc/<pid>/stat, in seconds. The command name (field 2) may hold spaces and parentheses. */
export function parseStatCpuSeconds(text: string): number {
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  // After the name, field 3 (state) is index 0, so utime (field 14) is index 11 and stime index 12.
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (Number.isNaN(utime) || Number.isNaN(stime)) throw new Error("stat: no utime and stime fields");
  return (utime + stime) / ticksPerSecond;
}

/** CPU seconds (user + system) process `pid` has used, all its threads. */
export function processCpuSeconds(pid: number): number {
  return parseStatCpuSeconds(readFileSync(`/proc/${pid}/stat`, "utf8"));
}

/** Busy seconds over all cores from /proc/stat's first line: every column but idle and iowait. */
export function parseMachineBusySeconds(text: string): number {
  const [label, ...values] = (text.split("\n")[0] ?? "").trim().split(/\s+/);
  if (label !== "cpu" || values.length < 5) throw new Error("/proc/stat: no aggregate cpu line");
  const ticks = values.map(Number);
  const total = ticks.reduce((sum, value) => sum + value, 0);
  return (total - (ticks[3] ?? 0) - (ticks[4] ?? 0)) / ticksPerSecond;
}

/**
 * Each listed thread's run and wait nanoseconds, read by `read`. A thread that ends between the listing and its
 * read (a worker thread of an earlier scenario, a V8 helper) is left out: its file is gone.
 */
export function threadSchedstats(
  tids: readonly string[],
  read: (tid: string) => string,
): Map<number, { runNs: number; waitNs: number }> {
  const threads = new Map<number, { runNs: number; waitNs: number }>();
  for (const tid of tids) {
    let text: string;
    try {
      text = read(tid);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "ENOENT" || code === "ESRCH") continue;
      throw error;
    }
    threads.set(Number(tid), parseSchedstat(text));
  }
  return threads;
}

/** The figures of now, or undefined where /proc is not Linux's (the split is then left out). */
export function cpuSnapshot(brokerPid: number): CpuSnapshot | undefined {
  if (!existsSync("/proc/self/task")) return undefined;
  return {
    threads: threadSchedstats(readdirSync("/proc/self/task"), (tid) =>
      readFileSync(`/proc/self/task/${tid}/schedstat`, "utf8"),
    ),
    brokerSeconds: processCpuSeconds(brokerPid),
    machineBusySeconds: parseMachineBusySeconds(readFileSync("/proc/stat", "utf8")),
    atSeconds: performance.now() / 1000,
  };
}

/**
 * What happened between two snapshots taken around answering `messages` on a machine of `cores` cores; the thread
 * `clientThreadId`, when given, is the offered load's client, counted apart from the worker's threads.
 */
export function cpuSplit(
  before: CpuSnapshot,
  after: CpuSnapshot,
  drain: { mainThreadId: number; messages: number; cores: number; clientThreadId?: number },
): CpuSplit {
  const perMsg = (ns: number) => ns / 1000 / drain.messages;
  const delta = (tid: number) => {
    const end = after.threads.get(tid) ?? { runNs: 0, waitNs: 0 };
    const start = before.threads.get(tid) ?? { runNs: 0, waitNs: 0 };
    return { runNs: end.runNs - start.runNs, waitNs: end.waitNs - start.waitNs };
  };
  if (drain.clientThreadId !== undefined && !after.threads.has(drain.clientThreadId)) {
    // Its figures left /proc with it: counting it as 0 would make its CPU time negative.
    throw new Error(`the client thread ${drain.clientThreadId} ended before the last snapshot`);
  }
  const main = delta(drain.mainThreadId);
  const client = drain.clientThreadId === undefined ? 0 : delta(drain.clientThreadId).runNs;
  let othersNs = 0;
  for (const tid of after.threads.keys()) {
    if (tid !== drain.mainThreadId && tid !== drain.clientThreadId) othersNs += delta(tid).runNs;
  }
  const machineBusySeconds = after.machineBusySeconds - before.machineBusySeconds;
  const machineUsPerMsg = perMsg(machineBusySeconds * 1e9);
  const elapsedSeconds = after.atSeconds - before.atSeconds;
  return {
    mainUsPerMsg: perMsg(main.runNs),
    mainRunQueueUsPerMsg: perMsg(main.waitNs),
    clientUsPerMsg: perMsg(client),
    otherThreadsUsPerMsg: perMsg(othersNs),
    brokerUsPerMsg: perMsg((after.brokerSeconds - before.brokerSeconds) * 1e9),
    machineUsPerMsg,
    machineCeilingMsgsPerS:
      machineUsPerMsg > 0 ? (drain.cores * 1e6) / machineUsPerMsg : Number.POSITIVE_INFINITY,
    machineBusyShare: elapsedSeconds > 0 ? machineBusySeconds / (elapsedSeconds * drain.cores) : 0,
  };
}

export const describeCpuSplit = (split: CpuSplit) =>
  `CPU per message: main thread ${split.mainUsPerMsg.toFixed(1)} µs (one core's worth: ` +
  `${(1e6 / split.mainUsPerMsg).toFixed(0)} msg/s; and ${split.mainRunQueueUsPerMsg.toFixed(1)} µs waiting for a core), other threads ${split.otherThreadsUsPerMsg.toFixed(1)} µs, broker ` +
  `${split.brokerUsPerMsg.toFixed(1)} µs; the machine ${split.machineUsPerMsg.toFixed(1)} µs in all, ` +
  `which its cores sustain at ${split.machineCeilingMsgsPerS.toFixed(0)} msg/s at most`;

/** The split of an offered load: the worker's threads, the client's, the broker's, and how busy the machine was. */
export const describeLoadCpuSplit = (split: CpuSplit) =>
  `CPU per message: worker main thread ${split.mainUsPerMsg.toFixed(1)} µs (and ` +
  `${split.mainRunQueueUsPerMsg.toFixed(1)} µs waiting for a core), its other threads ` +
  `${split.otherThreadsUsPerMsg.toFixed(1)} µs, the load's client ${split.clientUsPerMsg.toFixed(1)} µs, broker ` +
  `${split.brokerUsPerMsg.toFixed(1)} µs; the machine's cores were ${(split.machineBusyShare * 100).toFixed(0)}% busy`;
