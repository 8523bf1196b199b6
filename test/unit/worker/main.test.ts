// The worker process refusing to start: what it prints last is what a failed pod's termination message ends with
// (terminationMessagePolicy FallbackToLogsOnError), and so what the pipeline's WorkersAvailable condition quotes.
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { expect } from "chai";

const run = promisify(execFile);
const main = fileURLToPath(new URL("../../../worker/src/main.ts", import.meta.url));

describe("worker process", function () {
  // Node under tsx, loading the worker's modules.
  this.timeout(30_000);

  it("exits 2 on an invalid configuration, naming every problem on the one line it prints", async () => {
    const failed = await run(process.execPath, ["--import", "tsx", main], {
      env: { PATH: process.env.PATH, KAFKA_GROUP_ID: "g", TOPIC_REQUESTS: "r", TOPIC_RESPONSES: "s" },
    }).then(
      () => undefined,
      (error: { code: number; stdout: string; stderr: string }) => error,
    );
    expect(failed?.code).to.equal(2);
    expect(failed?.stdout).to.equal("");
    expect(failed?.stderr).to.equal(
      "worker: invalid configuration: KAFKA_BOOTSTRAP_SERVERS is required; TOPIC_DEAD_LETTER is required\n",
    );
  });
});
