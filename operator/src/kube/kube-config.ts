// The operator's KubeConfig. client-node 1.4.0 gives every API call a new https.Agent
// (KubeConfig.applySecurityAuthentication), so every call opens a new TLS connection and builds a new secure
// context, parsing the CA, certificate and key again: with a thousand pipelines that was most of the operator's
// CPU (and a handshake on the API server's side for each call). Here the calls share one keep-alive agent per set
// of TLS settings, so they reuse open connections.
import { Agent } from "node:https";
import { KubeConfig, type RequestContext } from "@kubernetes/client-node";

/** The agent settings that tell one TLS identity and trust from another. */
const tlsSettings = ["ca", "cert", "key", "pfx", "passphrase", "rejectUnauthorized", "servername"] as const;

/** Equal for agents with the same TLS settings (Buffers by their bytes). */
export function tlsSettingsKey(options: Partial<Record<(typeof tlsSettings)[number], unknown>>): string {
  return JSON.stringify(tlsSettings.map((name) => options[name] ?? null));
}

export class KeepAliveKubeConfig extends KubeConfig {
  readonly #agents = new Map<string, Agent>();

  override async applySecurityAuthentication(context: RequestContext): Promise<void> {
    await super.applySecurityAuthentication(context);
    const made = context.getAgent();
    // A proxy's agent (a subclass) is left as client-node makes it.
    if (made?.constructor !== Agent) return;
    const options = (made as Agent).options;
    const key = tlsSettingsKey(options);
    let agent = this.#agents.get(key);
    if (agent === undefined) {
      agent = new Agent({ ...options, keepAlive: true });
      this.#agents.set(key, agent);
    }
    context.setAgent(agent);
  }
}
