import { Agent } from "node:https";
import { HttpMethod, RequestContext } from "@kubernetes/client-node";
import { expect } from "chai";
import { KeepAliveKubeConfig, tlsSettingsKey } from "../../../operator/src/kube/kube-config.ts";

function kubeConfigFor(cert: string): KeepAliveKubeConfig {
  const config = new KeepAliveKubeConfig();
  const base64 = (text: string) => Buffer.from(text).toString("base64");
  config.loadFromOptions({
    clusters: [{ name: "c", server: "https://127.0.0.1:6443", caData: base64("ca"), skipTLSVerify: false }],
    users: [{ name: "u", certData: base64(cert), keyData: base64("key") }],
    contexts: [{ name: "x", cluster: "c", user: "u" }],
    currentContext: "x",
  });
  return config;
}

async function agentOf(config: KeepAliveKubeConfig): Promise<Agent | undefined> {
  const context = new RequestContext("https://127.0.0.1:6443/api", HttpMethod.GET);
  await config.applySecurityAuthentication(context);
  return context.getAgent() as Agent | undefined;
}

describe("operator KubeConfig", () => {
  it("gives every API call the same keep-alive agent, so calls reuse open TLS connections", async () => {
    const config = kubeConfigFor("cert");
    const first = await agentOf(config);
    expect(first).to.be.instanceOf(Agent);
    expect(await agentOf(config)).to.equal(first);
    expect(first?.options.keepAlive).to.equal(true);
    expect(first?.options.cert?.toString()).to.equal("cert");
  });

  it("keeps agents of different TLS settings apart", async () => {
    expect(await agentOf(kubeConfigFor("cert-a"))).to.not.equal(await agentOf(kubeConfigFor("cert-b")));
    expect(tlsSettingsKey({ cert: Buffer.from("a") })).to.not.equal(
      tlsSettingsKey({ cert: Buffer.from("b") }),
    );
    expect(tlsSettingsKey({ cert: Buffer.from("a") })).to.equal(tlsSettingsKey({ cert: Buffer.from("a") }));
  });
});
