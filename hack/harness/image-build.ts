// Builds the operator and worker images from the repository's Dockerfile with buildah, as a user with Docker
// builds them with `docker build --target`, and loads them into the real node's containerd. No registry serves
// images here, so the one base image the Dockerfile names is made first: Debian's minimal base from debootstrap
// plus this machine's Node.js and npm, tagged with the Dockerfile's FROM name so the Dockerfile builds unchanged
// (`--pull=never`). Storage is buildah's overlay driver in a root of its own in the cache: nothing of the machine's
// own container storage is touched, and the layers stay there so a second build is quick. Not vfs: it copies the
// whole root file system for every step and every stage, which measured here 12 GB of storage and 9 minutes for a
// build with every step cached (overlay: 1.6 GB, 12 s for the worker).
import { createHash } from "node:crypto";
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { basename, join } from "node:path";
import { HarnessError } from "./cli.ts";
import { requireCommand, run, runCommand } from "./commands.ts";
import { cacheDir, repoRoot } from "./dirs.ts";
import {
  buildCaFile,
  buildNpmrc,
  chartAppVersion,
  fullyQualified,
  type ImageTarget,
  imageReference,
  imageTargets,
  type NpmClientSettings,
  nodeBaseImage,
  npmSetting,
} from "./image-config.ts";

const setupHint = "run 'bash hack/setup.sh real-node' as root";

/** buildah with the project's own storage: its overlay root and run root under the cache. */
function buildahRunner(): (args: string[], options?: { cwd?: string }) => string {
  const buildah = requireCommand("buildah", setupHint);
  const dir = cacheDir("images");
  const globals = [
    "--storage-driver",
    "overlay",
    "--root",
    join(dir, "overlay"),
    "--runroot",
    join(dir, "run"),
  ];
  return (args, options = {}) => run(buildah, [...globals, ...args], options);
}

type Buildah = ReturnType<typeof buildahRunner>;

/** The label on the base image that says what it was made of, so a new Node.js or release remakes it. */
const baseLabel = "io.kubesentiment.base";

function imageLabel(buildah: Buildah, image: string): string | undefined {
  try {
    return buildah([
      "inspect",
      "--type",
      "image",
      "--format",
      `{{index .OCIv1.Config.Labels "${baseLabel}"}}`,
      image,
    ]).trim();
  } catch {
    return undefined;
  }
}

/** The Debian mirror apt uses for `codename`, so debootstrap fetches from where this machine's packages come. */
function debianMirror(codename: string): string {
  const apt = requireCommand("apt-get", "the base image is made from Debian's packages: build on Debian");
  const uris = run(apt, [
    "indextargets",
    "--format",
    "$(REPO_URI)",
    "Identifier: Packages",
    `Codename: ${codename}`,
    "Origin: Debian",
    "Component: main",
  ])
    .split("\n")
    .map((line) => line.trim())
    .filter(Boolean);
  const mirror = uris[0];
  if (!mirror) {
    throw new HarnessError(
      `apt has no Debian ${codename} main source configured: add one to make the base image`,
    );
  }
  return mirror;
}

/**
 * Makes the Dockerfile's base image unless storage already holds one made of this Node.js and release: a
 * debootstrap minbase root, this machine's node and npm where the official image keeps them (/usr/local), and
 * its unprivileged user `node` (uid 1000), which the Dockerfile's `USER 1000:1000` is.
 */
function ensureBaseImage(
  buildah: Buildah,
  image: string,
  codename: string,
  log: (line: string) => void,
): void {
  const made = `${codename} node ${process.version}`;
  if (imageLabel(buildah, fullyQualified(image)) === made) return;
  const debootstrap = requireCommand("debootstrap", setupHint);
  const dir = cacheDir("images");
  const rootfs = join(dir, "base-rootfs");
  const archive = join(dir, "base-rootfs.tar");
  rmSync(rootfs, { recursive: true, force: true });
  log(`images: making ${image} from Debian ${codename} (debootstrap minbase) and Node.js ${process.version}`);
  run(debootstrap, ["--variant=minbase", codename, rootfs, debianMirror(codename)]);

  const npmRoot = join(run("npm", ["root", "--global"]).trim(), "npm");
  if (!existsSync(join(npmRoot, "bin", "npm-cli.js")))
    throw new HarnessError(`npm is not installed in ${npmRoot}`);
  cpSync(process.execPath, join(rootfs, "usr/local/bin/node"));
  cpSync(npmRoot, join(rootfs, "usr/local/lib/node_modules/npm"), { recursive: true });
  symlinkSync("../lib/node_modules/npm/bin/npm-cli.js", join(rootfs, "usr/local/bin/npm"));
  symlinkSync("../lib/node_modules/npm/bin/npx-cli.js", join(rootfs, "usr/local/bin/npx"));
  run("chroot", [
    rootfs,
    "sh",
    "-c",
    "groupadd --gid 1000 node && useradd --uid 1000 --gid node --create-home node",
  ]);
  // What the official slim image also leaves out: downloaded packages, package lists, documentation.
  for (const clutter of [
    "var/cache/apt/archives",
    "var/lib/apt/lists",
    "usr/share/doc",
    "usr/share/man",
    "usr/share/info",
  ]) {
    rmSync(join(rootfs, clutter), { recursive: true, force: true });
    mkdirSync(join(rootfs, clutter), { recursive: true });
  }
  // /dev is the runtime's to fill; debootstrap's device nodes do not belong in an image.
  run("tar", ["-C", rootfs, "--numeric-owner", "--exclude=./dev/*", "-cf", archive, "."]);
  rmSync(rootfs, { recursive: true, force: true });

  const container = buildah(["from", "scratch"]).trim();
  try {
    buildah(["add", container, archive, "/"]);
    buildah([
      "config",
      "--env",
      "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
      "--env",
      `NODE_VERSION=${process.version.replace(/^v/, "")}`,
      "--cmd",
      "node",
      "--label",
      `${baseLabel}=${made}`,
      container,
    ]);
    buildah(["commit", "--rm", container, fullyQualified(image)]);
  } catch (error) {
    runCommand("buildah", ["rm", container]);
    throw error;
  } finally {
    rmSync(archive, { force: true });
  }
}

/** This machine's npm settings that decide how the registry is reached. */
function npmClientSettings(): NpmClientSettings {
  const get = (key: string) => npmSetting(run("npm", ["config", "get", key]));
  const registry = get("registry");
  if (!registry) throw new HarnessError("npm has no registry configured (npm config get registry)");
  const settings: NpmClientSettings = { registry };
  const cafile = get("cafile");
  if (cafile) settings.cafile = cafile;
  const proxy = get("proxy");
  if (proxy) settings.proxy = proxy;
  const httpsProxy = get("https-proxy");
  if (httpsProxy) settings.httpsProxy = httpsProxy;
  const noproxy = get("noproxy");
  if (noproxy) settings.noproxy = noproxy;
  return settings;
}

/**
 * Bind mounts for the build's RUN steps: npm's global config (/usr/local/etc/npmrc, as node lives in /usr/local)
 * with this machine's registry settings, and the CA bundle it names. They exist only while a step runs, so no
 * image layer keeps them.
 */
function npmMounts(): string[] {
  const settings = npmClientSettings();
  const npmrc = join(cacheDir("images"), "build-npmrc");
  writeFileSync(npmrc, buildNpmrc(settings));
  const mounts = ["--volume", `${npmrc}:/usr/local/etc/npmrc:ro`];
  if (settings.cafile) mounts.push("--volume", `${settings.cafile}:${buildCaFile}:ro`);
  return mounts;
}

export interface BuiltImage {
  target: ImageTarget;
  reference: string;
  /** Bytes of the image as a docker-archive (uncompressed layers). */
  archiveBytes: number;
  archive: string;
}

/**
 * Builds both images (the base image first when missing) and writes each as a docker-archive under the cache,
 * the form containerd imports. The RUN steps share this machine's network, so `npm ci` reaches the registry
 * the way this machine's npm does.
 */
export function buildImages(log: (line: string) => void = console.error): BuiltImage[] {
  const buildah = buildahRunner();
  const dockerfile = join(repoRoot, "Dockerfile");
  const { image, codename } = nodeBaseImage(readFileSync(dockerfile, "utf8"));
  ensureBaseImage(buildah, image, codename, log);
  const appVersion = chartAppVersion(readFileSync(join(repoRoot, "charts/kubesentiment/Chart.yaml"), "utf8"));
  const mounts = npmMounts();
  const archives = archivesDir();
  return imageTargets.map((target) => {
    const reference = imageReference(target, appVersion);
    log(`images: building ${reference} (--target ${target})`);
    const started = Date.now();
    buildah(
      [
        "bud",
        "--layers",
        "--pull=never",
        "--network",
        "host",
        ...mounts,
        "--target",
        target,
        "--tag",
        reference,
        "--file",
        dockerfile,
        repoRoot,
      ],
      { cwd: repoRoot },
    );
    const archive = join(archives, `${target}.tar`);
    rmSync(archive, { force: true });
    buildah(["push", reference, `docker-archive:${archive}:${reference}`]);
    log(`images: built ${reference} in ${Math.round((Date.now() - started) / 1000)}s`);
    return { target, reference, archive, archiveBytes: statSync(archive).size };
  });
}

/** Where built images are kept as docker-archives, ready for containerd to import. */
function archivesDir(): string {
  const dir = join(cacheDir("images"), "archives");
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** Imports docker-archives into containerd's k8s.io namespace, where the kubelet looks for images. */
export function loadIntoContainerd(archives: string[], address: string): void {
  const ctr = requireCommand("ctr", setupHint);
  for (const archive of archives) {
    run(ctr, ["--address", address, "--namespace", "k8s.io", "images", "import", archive]);
  }
}

/** Imports every image built so far (the pause image, and the operator and worker once built). */
export function importBuiltImages(address: string, log: (line: string) => void): void {
  const archives = readdirSync(archivesDir())
    .filter((name) => name.endsWith(".tar"))
    .map((name) => join(archivesDir(), name));
  loadIntoContainerd(archives, address);
  log(`images: loaded ${archives.map((archive) => basename(archive, ".tar")).join(", ")} into the real node`);
}

const pauseSource = join(repoRoot, "hack", "real-node", "pause.c");

/**
 * The pod sandbox image: hack/real-node/pause.c linked statically with gcc, alone in an image tagged with its
 * source's hash (a changed source is a new image). Returns the reference containerd is told to use.
 */
export function ensurePauseImage(): string {
  const source = readFileSync(pauseSource);
  const reference = `kubesentiment/pause:${createHash("sha256").update(source).digest("hex").slice(0, 12)}`;
  const archive = join(archivesDir(), "pause.tar");
  const stamp = join(archivesDir(), "pause.reference");
  if (existsSync(archive) && existsSync(stamp) && readFileSync(stamp, "utf8").trim() === reference)
    return reference;
  const gcc = requireCommand("gcc", setupHint);
  const dir = join(cacheDir("images"), "pause");
  mkdirSync(dir, { recursive: true });
  const binary = join(dir, "pause");
  run(gcc, ["-static", "-Os", "-s", "-Wall", "-Wextra", "-Werror", "-o", binary, pauseSource]);
  const buildah = buildahRunner();
  const container = buildah(["from", "scratch"]).trim();
  try {
    buildah(["copy", container, binary, "/pause"]);
    buildah(["config", "--entrypoint", '["/pause"]', "--user", "65535:65535", container]);
    buildah(["commit", "--rm", container, reference]);
  } catch (error) {
    runCommand("buildah", ["rm", container]);
    throw error;
  }
  rmSync(archive, { force: true });
  buildah(["push", reference, `docker-archive:${archive}:${reference}`]);
  writeFileSync(stamp, `${reference}\n`);
  return reference;
}

/** True when a containerd answers on `address`. */
export function containerdAnswers(address: string): boolean {
  if (!existsSync(address)) return false;
  const ctr = requireCommand("ctr", setupHint);
  return runCommand(ctr, ["--address", address, "version"], { timeoutMs: 5_000 }).status === 0;
}
