// The worker process: configuration from the environment, then the worker, and a bounded graceful shutdown on
// SIGTERM/SIGINT (readiness goes false, fetching stops, the in-flight batch finishes and commits, exit 0).
import { parseWorkerConfig } from "./config.ts";
import { startWorker } from "./worker.ts";

async function main(): Promise<void> {
  const parsed = parseWorkerConfig(process.env);
  if (!parsed.ok) {
    console.error(`worker: invalid configuration:\n${parsed.problems.map((p) => `  - ${p}`).join("\n")}`);
    process.exit(2);
  }
  const worker = await startWorker(parsed.config);
  let signalled = false;
  const shutdown = (signal: string) => {
    if (signalled) return;
    signalled = true;
    const deadline = setTimeout(() => {
      console.error(
        `worker: shutdown after ${signal} exceeded ${parsed.config.shutdownTimeoutMs} ms; exiting`,
      );
      process.exit(1);
    }, parsed.config.shutdownTimeoutMs);
    deadline.unref();
    worker.stop().then(
      () => process.exit(0),
      (error: Error) => {
        console.error(`worker: shutdown failed: ${error.message}`);
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", () => shutdown("SIGTERM"));
  process.on("SIGINT", () => shutdown("SIGINT"));
}

main().catch((error: Error) => {
  console.error(`worker: failed to start: ${error.message}`);
  process.exit(1);
});
