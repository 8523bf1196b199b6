// The operator's configuration: environment variables (what its Deployment sets), each checked at start so a
// bad value stops it with a message naming the variable.
import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import { type LogLevel, logLevels } from "../../common/src/logger.ts";

export interface OperatorConfig {
  /** Where the leader Lease lives: the operator's own namespace. */
  namespace: string;
  /** This replica's name in the Lease. */
  identity: string;
  leaderElection: boolean;
  defaultWorkerImage: string;
  httpPort: number;
  resyncPeriodMs: number;
  concurrency: number;
  logLevel: LogLevel;
  /** The namespaces whose pipelines it watches and reconciles; empty: every namespace. */
  watchNamespaces: string[];
  /** KEDA_ENABLED: pipelines with spec.autoscaling.provider keda get a KEDA ScaledObject; needs KEDA's RBAC. */
  kedaEnabled: boolean;
  /** external.metrics.k8s.io over TLS; off unless a serving certificate is given. */
  metricsApi: { port: number; certFile: string; keyFile: string } | undefined;
}

type Env = Readonly<Record<string, string | undefined>>;

export const defaultWorkerImage = "kubesentiment/worker:0.1.0";
/** What a namespace's name must be (RFC 1123 label). */
const dnsLabel = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const serviceAccountNamespaceFile = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";

function inClusterNamespace(): string | undefined {
  try {
    return readFileSync(serviceAccountNamespaceFile, "utf8").trim();
  } catch {
    return undefined;
  }
}

export type ParsedOperatorConfig = { ok: true; config: OperatorConfig } | { ok: false; problems: string[] };

export function parseOperatorConfig(env: Env): ParsedOperatorConfig {
  const problems: string[] = [];
  // A variable's value, trimmed; undefined when unset or blank.
  const variable = (name: string) => (env[name]?.trim() === "" ? undefined : env[name]?.trim());
  const integer = (name: string, fallback: number, min: number, max: number) => {
    const raw = variable(name);
    if (raw === undefined) return fallback;
    const parsed = Number(raw);
    if (!/^\d+$/.test(raw) || parsed < min || parsed > max) {
      problems.push(`${name} must be a whole number between ${min} and ${max}, got '${raw}'`);
      return fallback;
    }
    return parsed;
  };
  const boolean = (name: string, fallback: boolean) => {
    const raw = variable(name);
    if (raw === undefined) return fallback;
    if (raw !== "true" && raw !== "false") problems.push(`${name} must be true or false, got '${raw}'`);
    return raw === "true";
  };
  const logLevel = variable("LOG_LEVEL") ?? "info";
  const isLogLevel = (level: string): level is LogLevel => (logLevels as readonly string[]).includes(level);
  if (!isLogLevel(logLevel)) {
    problems.push(`LOG_LEVEL must be one of ${logLevels.join(", ")}, got '${logLevel}'`);
  }
  const watchNamespaces = (variable("WATCH_NAMESPACES") ?? "")
    .split(",")
    .map((namespace) => namespace.trim())
    .filter((namespace) => namespace !== "");
  for (const namespace of watchNamespaces) {
    if (!dnsLabel.test(namespace)) {
      problems.push(`WATCH_NAMESPACES must list namespace names (DNS labels), got '${namespace}'`);
    }
  }
  const config: OperatorConfig = {
    namespace: variable("OPERATOR_NAMESPACE") ?? inClusterNamespace() ?? "kubesentiment-system",
    identity: variable("POD_NAME") ?? `${hostname()}-${process.pid}`,
    leaderElection: boolean("LEADER_ELECTION", true),
    defaultWorkerImage: variable("WORKER_IMAGE") ?? defaultWorkerImage,
    httpPort: integer("HTTP_PORT", 8081, 0, 65535),
    resyncPeriodMs: integer("RESYNC_PERIOD_MS", 30_000, 1000, 3_600_000),
    concurrency: integer("RECONCILE_CONCURRENCY", 4, 1, 64),
    logLevel: isLogLevel(logLevel) ? logLevel : "info",
    watchNamespaces: [...new Set(watchNamespaces)],
    kedaEnabled: boolean("KEDA_ENABLED", false),
    metricsApi: undefined,
  };
  const certFile = variable("METRICS_TLS_CERT_FILE");
  const keyFile = variable("METRICS_TLS_KEY_FILE");
  const metricsPort = integer("METRICS_API_PORT", 6443, 0, 65535);
  if ((certFile === undefined) !== (keyFile === undefined)) {
    problems.push(
      "METRICS_TLS_CERT_FILE and METRICS_TLS_KEY_FILE must be set together (or neither, to serve no metrics API)",
    );
  } else if (certFile !== undefined && keyFile !== undefined) {
    config.metricsApi = { port: metricsPort, certFile, keyFile };
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, config };
}
