// Where things live: the checkout, the runtime state of local services (under the checkout, so clones do not
// collide) and the cache of fetched and built artefacts (outside git, shared by clones, kept between runs).
import { mkdirSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

/** Runtime state (data dirs, logs, pid files) of one component; under the checkout so clones do not collide. */
export function stateDir(component: string): string {
  const dir = join(process.env.KUBESENTIMENT_STATE ?? join(repoRoot, ".run"), component);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** Downloaded or built artefacts, kept outside git so a second start does not fetch or build again. */
export function cacheDir(component: string): string {
  const dir = join(process.env.KUBESENTIMENT_CACHE ?? join(homedir(), ".cache", "kubesentiment"), component);
  mkdirSync(dir, { recursive: true });
  return dir;
}
