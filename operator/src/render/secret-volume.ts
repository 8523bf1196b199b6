// A Secret as a pod volume that projects only the keys a container reads, each as a file of the key's name:
// nothing else the Secret holds reaches the pod's file system.
import type { V1Volume } from "@kubernetes/client-node";

export function secretVolume(volumeName: string, secretName: string, keys: readonly string[]): V1Volume {
  return { name: volumeName, secret: { secretName, items: keys.map((key) => ({ key, path: key })) } };
}
