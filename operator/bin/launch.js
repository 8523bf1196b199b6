// Starts one of the kubectl plugin's entries (src/cli/*.ts) wherever this package is: the compiled JavaScript
// beside this folder when it is there (the operator image, a build laid out as the image lays it out), else the
// TypeScript of a checkout through tsx, which resolves from this file, so the plugin runs from any directory.
// Plain JavaScript: node runs a bin as it is, before any loader is registered.
import { existsSync } from "node:fs";

/** `entry` is the file's path under src/cli/ without its extension. */
export async function launch(entry) {
  const compiled = new URL(`../src/cli/${entry}.js`, import.meta.url);
  if (existsSync(compiled)) {
    await import(compiled.href);
    return;
  }
  const { register } = await import("tsx/esm/api");
  register();
  await import(new URL(`../src/cli/${entry}.ts`, import.meta.url).href);
}
