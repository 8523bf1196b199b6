// End-to-end latency of the worker at a fixed offered load, and where the time went.
import { randomUUID } from "node:crypto";
import { availableParallelism } from "node:os";
import type { Worker } from "node:worker_threads";
import { startThread } from "../../common/src/start-thread.ts";
import { startWorker } from "../../worker/src/worker.ts";
import { type CpuSnapshot, type CpuSplit, cpuSnapshot, cpuSplit } from "./cpu-split.ts";
import type { OfferedLoad, OfferedLoadMessage, OfferedLoadResult } from "./offered-load.ts";
import { workerConfig } from "./throughput.ts";
import { createTopics } from "./workload.ts";

export { describeBreakdown } from "./latency-summary.ts";

export const offeredSeconds = Number(process.env.BENCH_OFFERED_SECONDS ?? 15);
/** Offered load before the measured seconds: V8 and the broker's JIT take about 20 s to settle (p99 falls
 * from over 500 ms in the first second to under 100 ms), and a worker runs for hours, not seconds. */
export const warmUpSeconds = Number(process.env.BENCH_WARM_UP_SECONDS ?? 20);

/** The latencies at a load, and where the CPU went while the measured requests were answered. */
export interface LatencyAtLoad extends OfferedLoadResult {
  /** Undefined without Linux's /proc or without the broker's pid. */
  cpu: CpuSplit | undefined;
}

/**
 * End-to-end latency of the worker at a fixed offered load: request sent → response written (its timestamp).
 * The load runs warmUpSeconds unmeasured, then offeredSeconds measured. Requests are sent and responses read on a
 * thread of their own (offered-load.ts), so the worker's event loop does only the worker's work, as deployed; but
 * on the same cores, so the CPU split counts the client apart (given `brokerPid`, the broker's too).
 */
export async function latencyAtLoad(
  bootstrap: string[],
  offeredRate: number,
  brokerPid?: number,
): Promise<LatencyAtLoad> {
  const run = randomUUID().slice(0, 8);
  const topics = { requests: `lat-req-${run}`, responses: `lat-res-${run}`, deadLetter: `lat-dlq-${run}` };
  await createTopics(bootstrap, Object.values(topics));
  const worker = await startWorker(workerConfig(bootstrap, topics));
  try {
    const warmUpCount = offeredRate * warmUpSeconds;
    const load: OfferedLoad = {
      servers: bootstrap,
      topics,
      rate: offeredRate,
      warmUpCount,
      total: warmUpCount + offeredRate * offeredSeconds,
      drainMs: 60_000,
    };
    const extension = import.meta.url.endsWith(".ts") ? ".ts" : ".js";
    const thread = startThread(new URL(`./offered-load${extension}`, import.meta.url), load);
    try {
      const { result, cpu } = await measured(thread, offeredRate * offeredSeconds, brokerPid);
      return { ...result, cpu };
    } finally {
      // It waits for this once it has reported (offered-load.ts), failed split or not.
      await thread.terminate();
    }
  } finally {
    await worker.stop();
  }
}

/** The offered load's result, and the CPU split from its first measured request to its result. */
function measured(
  thread: Worker,
  messages: number,
  brokerPid: number | undefined,
): Promise<{ result: OfferedLoadResult; cpu: CpuSplit | undefined }> {
  const snapshot = () => (brokerPid === undefined ? undefined : cpuSnapshot(brokerPid));
  let before: CpuSnapshot | undefined;
  let clientThreadId: number | undefined;
  return new Promise((resolve, reject) => {
    // A failure here rejects (and so stops the worker and the broker) rather than escaping as an uncaught error.
    thread.on("message", (message: OfferedLoadMessage) => {
      try {
        if (message.kind === "measuring") {
          before = snapshot();
          clientThreadId = message.threadId;
          return;
        }
        const after = snapshot();
        const cpu =
          before === undefined || after === undefined
            ? undefined
            : cpuSplit(before, after, {
                mainThreadId: process.pid,
                messages,
                cores: availableParallelism(),
                ...(clientThreadId === undefined ? {} : { clientThreadId }),
              });
        resolve({ result: message.result, cpu });
      } catch (error) {
        reject(error);
      }
    });
    thread.once("error", reject);
    thread.once("exit", (code) =>
      reject(new Error(`the offered-load thread exited (code ${code}) before it reported`)),
    );
  });
}
