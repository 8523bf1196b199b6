// Starts a worker thread from an entry module that is TypeScript source (tsx: development, tests, the bench) or
// compiled JavaScript (the image).
import { Worker } from "node:worker_threads";

export function startThread(entry: URL, workerData: unknown): Worker {
  if (entry.pathname.endsWith(".ts")) {
    // A worker thread does not inherit tsx's loader, so the entry is imported through tsx's API.
    const href = JSON.stringify(entry.href);
    return new Worker(`import("tsx/esm/api").then(({ tsImport }) => tsImport(${href}, ${href}));`, {
      eval: true,
      workerData,
    });
  }
  return new Worker(entry, { workerData });
}
