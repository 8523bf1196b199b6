// Pure parts of the image build: what the Dockerfile builds on, what the images are called, and the npm client
// settings the build container gets. Nothing here touches the disk or runs anything.
import { HarnessError } from "./cli.ts";

/** The Dockerfile's targets that are images a user runs, in the order `npm run images` prints them. */
export const imageTargets = ["operator", "worker"] as const;
export type ImageTarget = (typeof imageTargets)[number];

/**
 * The images a Dockerfile builds on: every `FROM` that names no earlier stage. The build must find each of
 * them locally (no registry is reachable), so they are made here first.
 */
export function externalBaseImages(dockerfile: string): string[] {
  const stages = new Set<string>();
  const bases: string[] = [];
  for (const line of dockerfile.split("\n")) {
    const match = /^\s*FROM\s+(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?\s*$/i.exec(line);
    if (!match?.[1]) continue;
    const image = match[1];
    if (!stages.has(image.toLowerCase()) && !bases.includes(image)) bases.push(image);
    if (match[2]) stages.add(match[2].toLowerCase());
  }
  return bases;
}

/**
 * The one Node.js base image the Dockerfile names, with the Debian release its tag says it is made of:
 * `node:20.19-bookworm-slim` → bookworm. Anything else is a Dockerfile this build does not know how to serve.
 */
export function nodeBaseImage(dockerfile: string): { image: string; codename: string } {
  const bases = externalBaseImages(dockerfile);
  if (bases.length !== 1 || !bases[0]) {
    throw new HarnessError(
      `the Dockerfile must build on exactly one base image to be built here, found ${bases.length}: ${bases.join(", ")}`,
    );
  }
  const image = bases[0];
  const match = /^(?:docker\.io\/)?(?:library\/)?node:[\d.]+-([a-z]+)-slim$/.exec(image);
  if (!match?.[1]) {
    throw new HarnessError(
      `the Dockerfile's base image ${image} is not a node:<version>-<debian release>-slim image, the only kind made here`,
    );
  }
  return { image, codename: match[1] };
}

/** `docker.io/library/node:…` for `node:…`: the name the build's short-name lookup finds in local storage. */
export function fullyQualified(image: string): string {
  const [first = "", ...rest] = image.split("/");
  const hasRegistry =
    rest.length > 0 && (first.includes(".") || first.includes(":") || first === "localhost");
  if (hasRegistry) return image;
  return rest.length === 0 ? `docker.io/library/${image}` : `docker.io/${image}`;
}

/** The chart's appVersion, which tags both images (the chart's default image tag). */
export function chartAppVersion(chartYaml: string): string {
  const match = /^appVersion:\s*["']?([^"'\s]+)["']?\s*$/m.exec(chartYaml);
  if (!match?.[1]) throw new HarnessError("charts/kubesentiment/Chart.yaml has no appVersion");
  return match[1];
}

/** `kubesentiment/operator:0.1.0`: the repository the chart's values name, tagged with the appVersion. */
export function imageReference(target: ImageTarget, appVersion: string): string {
  return `kubesentiment/${target}:${appVersion}`;
}

/** The machine's npm client settings that decide how the registry is reached. */
export interface NpmClientSettings {
  registry: string;
  /** Path of the CA bundle npm trusts, when not Node.js's own (a proxy that re-signs TLS). */
  cafile?: string;
  proxy?: string;
  httpsProxy?: string;
  noproxy?: string;
}

/** Where the build container sees the machine's CA bundle. */
export const buildCaFile = "/etc/ssl/certs/kubesentiment-build-ca.crt";

/**
 * The npm global config the build's `npm ci` runs with, so it reaches the registry exactly as this machine's
 * npm does (same registry, proxies and CA), without the project naming any of them.
 */
export function buildNpmrc(settings: NpmClientSettings): string {
  const lines = [`registry=${settings.registry}`];
  if (settings.cafile) lines.push(`cafile=${buildCaFile}`);
  if (settings.proxy) lines.push(`proxy=${settings.proxy}`);
  if (settings.httpsProxy) lines.push(`https-proxy=${settings.httpsProxy}`);
  if (settings.noproxy) lines.push(`noproxy=${settings.noproxy}`);
  return `${lines.join("\n")}\n`;
}

/** `npm config get` prints "null" or "undefined" for a setting that is not set. */
export function npmSetting(raw: string): string | undefined {
  const value = raw.trim();
  return value === "" || value === "null" || value === "undefined" ? undefined : value;
}
