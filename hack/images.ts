// The operator and worker images, built from the Dockerfile with buildah (see hack/harness/image-build.ts).
//
//   node --import tsx hack/images.ts   build both images, load them into the real node's containerd when it
//                                      runs; prints the two image references, space-separated, on its last line
//
// Environment: KUBESENTIMENT_CACHE and KUBESENTIMENT_STATE (see hack/harness/dirs.ts).

import { runCli } from "./harness/cli.ts";
import { stateDir } from "./harness/dirs.ts";
import { buildImages, containerdAnswers, loadIntoContainerd } from "./harness/image-build.ts";
import { realNodeFiles } from "./harness/real-node-config.ts";
import { realNodeDir } from "./harness/real-node-run.ts";

runCli(async () => {
  const images = buildImages();
  for (const image of images) {
    console.error(`images: ${image.reference}: ${(image.archiveBytes / 1e6).toFixed(0)} MB uncompressed`);
  }
  const { containerdSocket } = realNodeFiles(realNodeDir(stateDir("cluster")));
  if (containerdAnswers(containerdSocket)) {
    loadIntoContainerd(
      images.map((image) => image.archive),
      containerdSocket,
    );
    console.error("images: loaded into the real node's containerd (namespace k8s.io)");
  } else {
    console.error("images: the real node is not running (npm run cluster:up -- --real-node): not loaded");
  }
  console.log(images.map((image) => image.reference).join(" "));
});
