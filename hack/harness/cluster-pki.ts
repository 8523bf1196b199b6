// The control plane's certificates and keys, made with the openssl CLI (no npm crypto library needed):
// a cluster CA for serving and client certificates, a separate front-proxy CA for the aggregation layer
// (the apiserver trusts requests proxied to extension apiservers only from that CA's client), and the
// service-account signing key pair. Generated once per state directory and reused by later `up`s.
import { existsSync, mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { requireCommand, run } from "./commands.ts";

export interface Pki {
  dir: string;
  caCert: string;
  caKey: string;
  apiserverCert: string;
  apiserverKey: string;
  adminCert: string;
  adminKey: string;
  kubeletClientCert: string;
  kubeletClientKey: string;
  frontProxyCaCert: string;
  frontProxyClientCert: string;
  frontProxyClientKey: string;
  serviceAccountKey: string;
  serviceAccountPub: string;
}

/** The CN the apiserver accepts on proxied requests (--requestheader-allowed-names). */
export const frontProxyClientName = "front-proxy-client";

export function pkiPaths(dir: string): Pki {
  const file = (name: string) => join(dir, name);
  return {
    dir,
    caCert: file("ca.crt"),
    caKey: file("ca.key"),
    apiserverCert: file("apiserver.crt"),
    apiserverKey: file("apiserver.key"),
    adminCert: file("admin.crt"),
    adminKey: file("admin.key"),
    kubeletClientCert: file("apiserver-kubelet-client.crt"),
    kubeletClientKey: file("apiserver-kubelet-client.key"),
    frontProxyCaCert: file("front-proxy-ca.crt"),
    frontProxyClientCert: file("front-proxy-client.crt"),
    frontProxyClientKey: file("front-proxy-client.key"),
    serviceAccountKey: file("sa.key"),
    serviceAccountPub: file("sa.pub"),
  };
}

/**
 * Names and addresses the serving certificate must cover: loopback for the harness, the in-cluster names, and
 * `addresses` (the kubernetes Service's ClusterIP, the pod gateway a real node's pods reach it on).
 */
export function apiserverSubjectAltNames(addresses: string[]): string {
  const dns = [
    "localhost",
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
  ];
  return [...dns.map((name) => `DNS:${name}`), ...["127.0.0.1", ...addresses].map((ip) => `IP:${ip}`)].join(
    ",",
  );
}

// P-256 keys: generated in milliseconds where RSA takes noticeably longer, and accepted everywhere here.
const keyArgs = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
const validDays = "3650";

export function selfSignedCa(openssl: string, cert: string, key: string, commonName: string): void {
  run(openssl, [
    "req",
    "-x509",
    ...keyArgs,
    "-keyout",
    key,
    "-out",
    cert,
    "-days",
    validDays,
    "-subj",
    `/CN=${commonName}`,
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
  ]);
}

export function signedLeaf(
  openssl: string,
  ca: { cert: string; key: string },
  leaf: {
    cert: string;
    key: string;
    subject: string;
    /** Both for a server that also dials its peers with its certificate (a Kafka broker under mutual TLS). */
    usage: "serverAuth" | "clientAuth" | "serverAuth,clientAuth";
    san?: string;
  },
): void {
  const extensions = [
    "-addext",
    "basicConstraints=critical,CA:FALSE",
    "-addext",
    "keyUsage=critical,digitalSignature,keyEncipherment",
    "-addext",
    `extendedKeyUsage=${leaf.usage}`,
    ...(leaf.san ? ["-addext", `subjectAltName=${leaf.san}`] : []),
  ];
  run(openssl, [
    "req",
    "-x509",
    ...keyArgs,
    "-keyout",
    leaf.key,
    "-out",
    leaf.cert,
    "-days",
    validDays,
    "-subj",
    leaf.subject,
    "-CA",
    ca.cert,
    "-CAkey",
    ca.key,
    ...extensions,
  ]);
}

/** Creates any missing certificate or key in `dir` (all of them on a first start); returns their paths. */
export function ensurePki(dir: string, apiserverAddresses: string[]): Pki {
  const pki = pkiPaths(dir);
  const complete = Object.entries(pki).every(([field, path]) => field === "dir" || existsSync(path));
  if (complete) return pki;
  const openssl = requireCommand(
    "openssl",
    "install OpenSSL 3 (Debian: apt-get install openssl); it makes the control plane's certificates",
  );
  // A half-written set (an interrupted start) is regenerated whole so every leaf matches its CA.
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true, mode: 0o700 });

  selfSignedCa(openssl, pki.caCert, pki.caKey, "kubesentiment-local-ca");
  const ca = { cert: pki.caCert, key: pki.caKey };
  signedLeaf(openssl, ca, {
    cert: pki.apiserverCert,
    key: pki.apiserverKey,
    subject: "/CN=kube-apiserver",
    usage: "serverAuth",
    san: apiserverSubjectAltNames(apiserverAddresses),
  });
  // O=system:masters: the group RBAC binds to cluster-admin, so the harness and tests can do anything.
  signedLeaf(openssl, ca, {
    cert: pki.adminCert,
    key: pki.adminKey,
    subject: "/O=system:masters/CN=kubesentiment-admin",
    usage: "clientAuth",
  });
  // The apiserver's client certificate towards kubelets (logs, exec, port-forward): a real node's kubelet
  // authorizes it through the apiserver, which lets system:masters do anything.
  signedLeaf(openssl, ca, {
    cert: pki.kubeletClientCert,
    key: pki.kubeletClientKey,
    subject: "/O=system:masters/CN=kube-apiserver-kubelet-client",
    usage: "clientAuth",
  });

  const frontProxyCaKey = join(dir, "front-proxy-ca.key");
  selfSignedCa(openssl, pki.frontProxyCaCert, frontProxyCaKey, "kubesentiment-front-proxy-ca");
  signedLeaf(
    openssl,
    { cert: pki.frontProxyCaCert, key: frontProxyCaKey },
    {
      cert: pki.frontProxyClientCert,
      key: pki.frontProxyClientKey,
      subject: `/CN=${frontProxyClientName}`,
      usage: "clientAuth",
    },
  );

  run(openssl, ["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", pki.serviceAccountKey]);
  run(openssl, ["ec", "-in", pki.serviceAccountKey, "-pubout", "-out", pki.serviceAccountPub]);
  return pki;
}
