// Real worker processes standing in for a Deployment's pods: kwok makes the pods Running on a fake node, and
// this keeps as many local worker processes running as the Deployment's spec.replicas asks for, each with the
// environment the pod template gives it. Scaling down stops the newest with SIGTERM (a clean leave).
import type { ChildProcess } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import type { V1Deployment } from "@kubernetes/client-node";
import { startWorkerProcess, workerEnvOf } from "../../hack/harness/local-worker.ts";
import { stopChild } from "../../hack/harness/processes.ts";

export class WorkerFleet {
  readonly #workers: ChildProcess[] = [];
  #running = true;
  #loop: Promise<void>;
  /** The most workers that ran at once. */
  peak = 0;

  /**
   * `read` returns the Deployment as the API server has it now (undefined while it does not exist), without
   * blocking this process: the fleet polls it all along, beside the operator a test runs in the same process.
   * `extraEnv` is added to what the pod template gives each worker (a test-only setting such as MODEL_FAULT_FILE).
   */
  constructor(
    private readonly read: () => Promise<V1Deployment | undefined>,
    private readonly extraEnv: Record<string, string> = {},
  ) {
    this.#loop = this.#follow();
  }

  get size(): number {
    return this.#workers.length;
  }

  async #follow(): Promise<void> {
    let counter = 0;
    while (this.#running) {
      const deployment = await this.read();
      const wanted = deployment?.spec?.replicas ?? 0;
      while (deployment !== undefined && this.#workers.length < wanted) {
        counter += 1;
        this.#workers.push(this.#spawn(deployment, `worker-${counter}`));
      }
      while (this.#workers.length > wanted) {
        const newest = this.#workers.pop();
        if (newest !== undefined) await stopChild(newest);
      }
      this.peak = Math.max(this.peak, this.#workers.length);
      await sleep(500);
    }
  }

  #spawn(deployment: V1Deployment, podName: string): ChildProcess {
    return startWorkerProcess(
      {
        ...workerEnvOf(deployment, podName),
        HTTP_PORT: "0",
        LOG_LEVEL: "error",
        KAFKA_SESSION_TIMEOUT_MS: "6000",
        ...this.extraEnv,
      },
      "ignore",
    );
  }

  async stop(): Promise<void> {
    this.#running = false;
    await this.#loop;
    await Promise.all(this.#workers.splice(0).map((worker) => stopChild(worker)));
  }
}
