import { readFileSync } from "node:fs";
import { join } from "node:path";
import { expect } from "chai";
import { repoRoot } from "../../hack/harness/dirs.ts";
import {
  buildNpmrc,
  chartAppVersion,
  externalBaseImages,
  fullyQualified,
  imageReference,
  nodeBaseImage,
  npmSetting,
} from "../../hack/harness/image-config.ts";

describe("image build configuration", () => {
  it("finds the Dockerfile's one base image and the Debian release it is made of", () => {
    const dockerfile = readFileSync(join(repoRoot, "Dockerfile"), "utf8");
    expect(nodeBaseImage(dockerfile)).to.deep.equal({
      image: "node:20.19-bookworm-slim",
      codename: "bookworm",
    });
  });

  it("counts as base images only the FROMs that name no earlier stage", () => {
    const dockerfile = [
      "FROM --platform=linux/amd64 node:22-trixie-slim AS build",
      "FROM build AS deps",
      "from Build as other",
      "FROM busybox:1",
      "FROM node:22-trixie-slim AS runtime",
    ].join("\n");
    expect(externalBaseImages(dockerfile)).to.deep.equal(["node:22-trixie-slim", "busybox:1"]);
  });

  it("refuses a Dockerfile on a base image it cannot make, naming it", () => {
    expect(() => nodeBaseImage("FROM node:20-alpine AS build\n")).to.throw(/node:20-alpine is not a node:/);
    expect(() => nodeBaseImage("FROM a:1\nFROM b:2\n")).to.throw(/exactly one base image.*found 2: a:1, b:2/);
  });

  it("names the base image as the build's short-name lookup finds it", () => {
    expect(fullyQualified("node:20.19-bookworm-slim")).to.equal("docker.io/library/node:20.19-bookworm-slim");
    expect(fullyQualified("someone/node:1")).to.equal("docker.io/someone/node:1");
    expect(fullyQualified("registry.example:5000/node:1")).to.equal("registry.example:5000/node:1");
  });

  it("tags the images with the chart's appVersion, under the repositories the chart's values name", () => {
    const appVersion = chartAppVersion(
      readFileSync(join(repoRoot, "charts/kubesentiment/Chart.yaml"), "utf8"),
    );
    const values = readFileSync(join(repoRoot, "charts/kubesentiment/values.yaml"), "utf8");
    for (const target of ["operator", "worker"] as const) {
      const [repository] = imageReference(target, appVersion).split(":");
      expect(values).to.include(`repository: ${repository}\n`);
    }
    expect(chartAppVersion('version: 1.0.0\nappVersion: "2.3.4"\n')).to.equal("2.3.4");
    expect(() => chartAppVersion("version: 1.0.0\n")).to.throw(/no appVersion/);
  });

  it("gives the build's npm this machine's registry, proxies and CA, and nothing it does not set", () => {
    expect(buildNpmrc({ registry: "https://registry.test/" })).to.equal("registry=https://registry.test/\n");
    expect(
      buildNpmrc({
        registry: "https://registry.test/",
        cafile: "/somewhere/ca.pem",
        httpsProxy: "http://proxy.test:3128",
        noproxy: "localhost",
      }),
    ).to.equal(
      "registry=https://registry.test/\ncafile=/etc/ssl/certs/kubesentiment-build-ca.crt\nhttps-proxy=http://proxy.test:3128\nnoproxy=localhost\n",
    );
    expect([npmSetting("null\n"), npmSetting("undefined"), npmSetting(""), npmSetting(" x\n")]).to.deep.equal(
      [undefined, undefined, undefined, "x"],
    );
  });
});
