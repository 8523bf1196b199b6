// The worker process: configuration from the environment, then the worker, and a bounded graceful shutdown on
// SIGTERM/SIGINT (readiness goes false, fetching stops, the in-flight batch finishes and commits, exit 0).
import { parseWorkerConfig } from "./config.ts";
import { type RunningWorker, startWorker } from "./worker.ts";

async function main(): Promise<void> {
  const parsed = parseWorkerConfig(process.env);
  if (!parsed.ok) {
    // One line, the last: a pod's termination message is its log's tail (render/deployment.ts).
    console.error(`worker: invalid configuration: ${parsed.problems.join("; ")}`);
    process.exit(2);
  }
  // Handled from the start: in a container the worker is PID 1, which ignores a signal it has no handler for,
  // so a pod deleted while its worker starts (scaled back to zero a moment after it was created) would finish
  // starting, consume, and run until the kubelet's SIGKILL. Nothing is committed before the worker has started,
  // so exiting then loses nothing: whatever it had begun to read, the group's next member reads again. But once
  // its consumer asks to join the group, the coordinator counts it in the rebalance and hands it partitions:
  // gone without leaving, it would hold them, and stall every later rebalance, for a whole session timeout. So
  // from then on the worker finishes joining and stops at once, which leaves the group. And while the classifier
  // threads load the model, ending them can abort the process (SIGABRT rather than exit 0): the exit waits for the
  // load.
  let worker: RunningWorker | undefined;
  let joining = false;
  let modelLoading: Promise<unknown> | undefined;
  let signalled = false;
  const stop = (running: RunningWorker) =>
    running.stop().then(
      () => process.exit(0),
      (error: Error) => {
        console.error(`worker: shutdown failed: ${error.message}`);
        process.exit(1);
      },
    );
  const shutdown = (signal: string) => {
    if (signalled) return;
    signalled = true;
    if (worker === undefined && !joining && modelLoading === undefined) {
      console.error(`worker: ${signal} while starting; exiting without committing anything`);
      process.exit(0);
    }
    const deadline = setTimeout(() => {
      console.error(
        `worker: shutdown after ${signal} exceeded ${parsed.config.shutdownTimeoutMs} ms; exiting`,
      );
      process.exit(1);
    }, parsed.config.shutdownTimeoutMs);
    deadline.unref();
    if (worker !== undefined) {
      void stop(worker);
    } else if (joining) {
      console.error(`worker: ${signal} while joining its consumer group; stopping once joined, to leave it`);
    } else {
      console.error(
        `worker: ${signal} while starting; exiting without committing anything once the model has loaded`,
      );
      const exit = () => process.exit(0);
      void modelLoading?.then(exit, exit);
    }
  };
  process.on("SIGTERM", () => shutdown("SIGTERM"));
  process.on("SIGINT", () => shutdown("SIGINT"));
  worker = await startWorker(parsed.config, {
    onJoining: () => {
      joining = true;
    },
    onModelLoading: (loading) => {
      modelLoading = loading;
      const loaded = () => {
        modelLoading = undefined;
      };
      loading.then(loaded, loaded);
    },
  });
  if (signalled) await stop(worker);
}

main().catch((error: Error) => {
  console.error(`worker: failed to start: ${error.message}`);
  process.exit(1);
});
