// The classifier thread's side (see classifier-thread.ts): load the model, say so, then answer each request
// with its predictions or its error.
import { parentPort, workerData } from "node:worker_threads";
import { injectedFault, loadClassifier } from "./classifier.ts";
import type { ThreadData, ThreadMessage, ThreadRequest } from "./classifier-thread.ts";

const port = parentPort;
if (port === null) throw new Error("classifier-thread-entry runs as a worker thread only");
const send = (message: ThreadMessage) => port.postMessage(message);
const { dir, options } = workerData as ThreadData;

try {
  const classifier = await loadClassifier(dir, options);
  port.on("message", ({ id, texts }: ThreadRequest) => {
    // Test-only: the thread dies as a crash would end it.
    if (injectedFault(options) === "exit") process.exit(1);
    classifier.classify(texts).then(
      (predictions) => send({ kind: "result", id, predictions }),
      (error: Error) => send({ kind: "error", id, message: error.message }),
    );
  });
  send({
    kind: "ready",
    name: classifier.name,
    version: classifier.version,
    labels: [...classifier.labels],
    maxSequenceLength: classifier.maxSequenceLength,
    tokenization: classifier.tokenization,
  });
} catch (error) {
  const failure = error instanceof Error ? error : new Error(String(error));
  send({ kind: "failed", name: failure.name, message: failure.message });
}
