// A cached, self-restarting watch of one resource. client-node's ListWatch keeps the cache and reports
// changes but stops for good on an error (an API server restart, a dropped connection); this restarts it
// after a pause, so the operator never silently stops seeing changes.
import {
  type KubeConfig,
  type KubernetesObject,
  type ListPromise,
  ListWatch,
  type ObjectCache,
  Watch,
} from "@kubernetes/client-node";

export interface WatchedResource<T> {
  cache: ObjectCache<T>;
  /** The first list has arrived: the cache reflects the cluster. */
  synced(): boolean;
  stop(): Promise<void>;
}

export interface WatchOptions<T extends KubernetesObject> {
  kubeConfig: KubeConfig;
  path: string;
  list: ListPromise<T>;
  labelSelector?: string;
  /** Told each object added, changed or deleted, after the cache (passed along) has taken the change in. */
  onChange: (object: T, cache: ObjectCache<T>) => void;
  onError: (error: unknown) => void;
  restartDelayMs?: number;
}

export async function watchResource<T extends KubernetesObject>(
  options: WatchOptions<T>,
): Promise<WatchedResource<T>> {
  const { kubeConfig, path, list, labelSelector, onChange, onError, restartDelayMs = 2000 } = options;
  let synced = false;
  let stopped = false;
  let restart: NodeJS.Timeout | undefined;
  const listWatch = new ListWatch<T>(
    path,
    new Watch(kubeConfig),
    async () => {
      const result = await list();
      synced = true;
      return result;
    },
    false,
    labelSelector,
  );
  listWatch.on("change", (object) => onChange(object, listWatch));
  listWatch.on("error", (error) => {
    if (stopped) return;
    onError(error);
    clearTimeout(restart);
    restart = setTimeout(() => void listWatch.start(), restartDelayMs);
  });
  await listWatch.start();
  return {
    cache: listWatch,
    synced: () => synced,
    stop: async () => {
      stopped = true;
      clearTimeout(restart);
      await listWatch.stop();
    },
  };
}
