// The classifier on a thread of its own. Tokenization and ONNX Runtime run synchronously on whichever thread
// calls them; in the worker's main thread they would take turns with Kafka I/O, JSON and validation. On their
// own thread the two halves overlap, which on a multi-core machine is most of a worker's throughput.
import { startThread } from "../../../common/src/start-thread.ts";
import type { Classifier, ClassifierOptions } from "./classifier.ts";
import type { Prediction } from "./preprocess.ts";

export interface ThreadRequest {
  id: number;
  texts: readonly string[];
}

export type ThreadMessage =
  | {
      kind: "ready";
      name: string;
      version: string;
      labels: string[];
      maxSequenceLength: number;
      tokenization: string;
    }
  | { kind: "failed"; name: string; message: string }
  | { kind: "result"; id: number; predictions: Prediction[] }
  | { kind: "error"; id: number; message: string };

export interface ThreadData {
  dir: string;
  options: ClassifierOptions;
}

function errorFrom(message: { name: string; message: string }): Error {
  return Object.assign(new Error(message.message), { name: message.name });
}

/** A classifier on a thread of its own, which says when that thread ends other than by close(). */
export interface ThreadClassifier extends Classifier {
  /** Resolves with the reason once the thread has died (exited or thrown); never after close(). */
  readonly died: Promise<Error>;
}

/**
 * Loads the model on a new thread; the result behaves as loadClassifier's, and close() ends the thread. Once the
 * thread has died, the calls it had and every later call reject at once: none is left waiting for an answer.
 */
export async function loadClassifierInThread(
  dir: string,
  options: ClassifierOptions,
): Promise<ThreadClassifier> {
  const extension = import.meta.url.endsWith(".ts") ? ".ts" : ".js";
  const thread = startThread(new URL(`./classifier-thread-entry${extension}`, import.meta.url), {
    dir,
    options,
  });
  const ready = await new Promise<Extract<ThreadMessage, { kind: "ready" }>>((resolve, reject) => {
    thread.once("error", reject);
    thread.once("exit", (code) =>
      reject(new Error(`the classifier thread exited (code ${code}) while loading`)),
    );
    thread.once("message", (message: ThreadMessage) => {
      if (message.kind === "ready") resolve(message);
      else if (message.kind === "failed") reject(errorFrom(message));
      else reject(new Error(`classifier thread sent ${message.kind} before it was ready`));
    });
  });

  const pending = new Map<number, { resolve: (p: Prediction[]) => void; reject: (e: Error) => void }>();
  let closing = false;
  let death: Error | undefined;
  let reportDeath: (error: Error) => void = () => {};
  const died = new Promise<Error>((resolve) => {
    reportDeath = resolve;
  });
  const end = (error: Error) => {
    death ??= error;
    for (const { reject } of pending.values()) reject(death);
    pending.clear();
    if (!closing) reportDeath(death);
  };
  thread.on("message", (message: ThreadMessage) => {
    if (message.kind !== "result" && message.kind !== "error") return;
    const waiting = pending.get(message.id);
    pending.delete(message.id);
    if (message.kind === "result") waiting?.resolve(message.predictions);
    else waiting?.reject(new Error(message.message));
  });
  thread.on("error", (error) => end(error));
  thread.on("exit", (code) => end(new Error(`the classifier thread exited (code ${code})`)));

  let nextId = 0;
  return {
    name: ready.name,
    version: ready.version,
    labels: ready.labels,
    maxSequenceLength: ready.maxSequenceLength,
    tokenization: ready.tokenization,
    died,
    classify: (texts) =>
      new Promise<Prediction[]>((resolve, reject) => {
        if (death !== undefined) {
          reject(death);
          return;
        }
        const id = nextId++;
        pending.set(id, { resolve, reject });
        thread.postMessage({ id, texts } satisfies ThreadRequest);
      }),
    close: async () => {
      closing = true;
      await thread.terminate();
    },
  };
}
