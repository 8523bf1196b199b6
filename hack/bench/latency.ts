// End-to-end latency of the worker at a fixed offered load, and where the time went.
import { randomUUID } from "node:crypto";
import { once } from "node:events";
import { startThread } from "../../common/src/start-thread.ts";
import { startWorker } from "../../worker/src/worker.ts";
import type { OfferedLoad, OfferedLoadResult } from "./offered-load.ts";
import { workerConfig } from "./throughput.ts";
import { createTopics } from "./workload.ts";

export { describeBreakdown } from "./latency-summary.ts";

export const offeredSeconds = Number(process.env.BENCH_OFFERED_SECONDS ?? 15);
/** Offered load before the measured seconds: V8 and the broker's JIT take about 20 s to settle (p99 falls
 * from over 500 ms in the first second to under 100 ms), and a worker runs for hours, not seconds. */
export const warmUpSeconds = Number(process.env.BENCH_WARM_UP_SECONDS ?? 20);

/**
 * End-to-end latency of the worker at a fixed offered load: request sent → response written (its timestamp).
 * The load runs warmUpSeconds unmeasured, then offeredSeconds measured. Requests are sent and responses read on a
 * thread of their own (offered-load.ts), so the worker's event loop does only the worker's work, as deployed.
 */
export async function latencyAtLoad(bootstrap: string[], offeredRate: number): Promise<OfferedLoadResult> {
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
    const [result] = (await Promise.race([
      once(thread, "message"),
      once(thread, "exit").then(([code]) => {
        throw new Error(`the offered-load thread exited (code ${code}) before it reported`);
      }),
    ])) as [OfferedLoadResult];
    await thread.terminate();
    return result;
  } finally {
    await worker.stop();
  }
}
