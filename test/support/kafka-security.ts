// Certificates and users for tests against a SASL_SSL Kafka: a CA that signs the broker and a client, and a
// second CA that signs nothing the broker knows (what a client with the wrong CA bundle trusts).
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { selfSignedCa, signedLeaf } from "../../hack/harness/cluster-pki.ts";
import { requireCommand } from "../../hack/harness/commands.ts";
import type { KafkaSecurity } from "../../hack/harness/kafka-config.ts";

export interface TestPki {
  caCert: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  /** A CA that signed none of the above. */
  otherCaCert: string;
}

/** `serverAddresses`: IP addresses the broker's certificate names besides 127.0.0.1 (a listener's clientHost). */
export function makeTestPki(dir: string, serverAddresses: readonly string[] = []): TestPki {
  const openssl = requireCommand("openssl", "install OpenSSL 3 (Debian: apt-get install openssl)");
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = (name: string) => join(dir, name);
  const ca = { cert: file("ca.crt"), key: file("ca.key") };
  selfSignedCa(openssl, ca.cert, ca.key, "kubesentiment-test-kafka-ca");
  selfSignedCa(openssl, file("other-ca.crt"), file("other-ca.key"), "kubesentiment-test-other-ca");
  signedLeaf(openssl, ca, {
    cert: file("server.crt"),
    key: file("server.key"),
    subject: "/CN=kafka-test-broker",
    // Under mutual TLS the broker checks at start that its own certificate could log in to itself.
    usage: "serverAuth,clientAuth",
    san: ["IP:127.0.0.1", ...serverAddresses.map((address) => `IP:${address}`), "DNS:localhost"].join(","),
  });
  signedLeaf(openssl, ca, {
    cert: file("client.crt"),
    key: file("client.key"),
    subject: "/CN=kubesentiment-worker",
    usage: "clientAuth",
  });
  return {
    caCert: ca.cert,
    serverCert: file("server.crt"),
    serverKey: file("server.key"),
    clientCert: file("client.crt"),
    clientKey: file("client.key"),
    otherCaCert: file("other-ca.crt"),
  };
}

export const admin = { name: "admin", password: "admin-secret-7Qx" };
export const alice = { name: "alice", password: "alice-secret-3Rk" };

/** The harness's security option for `pki`: admin (the broker's own login) and alice; mTLS when asked. */
export function brokerSecurity(pki: TestPki, options: { mutualTls?: boolean } = {}): KafkaSecurity {
  return {
    caCertFile: pki.caCert,
    serverCertFile: pki.serverCert,
    serverKeyFile: pki.serverKey,
    users: [admin, alice],
    ...(options.mutualTls ? { clientAuth: { certFile: pki.clientCert, keyFile: pki.clientKey } } : {}),
  };
}
