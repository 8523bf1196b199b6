// external.metrics.k8s.io/v1beta1, served over TLS behind an APIService: the discovery document and one
// metric, kubesentiment_consumer_lag, per pipeline. Every request must come through the aggregation layer
// (request-header client certificate, see request-header.ts): others get 401. The user it names must be
// allowed to get the metric (a SubjectAccessReview): others get 403. Errors reading the lag are errors,
// never a made-up 0 or maximum, so the HPA holds its current scale instead of acting on them.
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer, type Server } from "node:https";
import type { TLSSocket } from "node:tls";
import { lagMetricName } from "../autoscaling/lag-metric.ts";
import { parseEqualitySelector } from "./label-selector.ts";
import { authenticate, type RequestHeaderConfig, type User } from "./request-header.ts";

export const metricsGroup = "external.metrics.k8s.io";
const metricsVersion = "v1beta1";
const basePath = `/apis/${metricsGroup}/${metricsVersion}`;

export type LagAnswer =
  | { ok: true; value: number; labels: Record<string, string> }
  | { ok: false; code: 400 | 404 | 503; message: string };

export interface MetricsApiOptions {
  port: number;
  host?: string;
  cert: string;
  key: string;
  /** The current request-header settings (the caller reloads them from their ConfigMap). */
  requestHeader: () => RequestHeaderConfig;
  authorize: (user: User, namespace: string, metric: string) => Promise<boolean>;
  lag: (namespace: string, labels: Record<string, string>) => Promise<LagAnswer>;
  log: (message: string, fields?: Record<string, unknown>) => void;
}

const reasons: Record<number, string> = {
  400: "BadRequest",
  401: "Unauthorized",
  403: "Forbidden",
  404: "NotFound",
  405: "MethodNotAllowed",
  500: "InternalError",
  503: "ServiceUnavailable",
};

function send(response: ServerResponse, code: number, body: unknown): void {
  response.writeHead(code, { "content-type": "application/json" }).end(JSON.stringify(body));
}

function failure(response: ServerResponse, code: number, message: string): void {
  send(response, code, {
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Failure",
    message,
    reason: reasons[code] ?? "Unknown",
    code,
  });
}

const discovery = {
  kind: "APIResourceList",
  apiVersion: "v1",
  groupVersion: `${metricsGroup}/${metricsVersion}`,
  resources: [
    {
      name: lagMetricName,
      singularName: "",
      namespaced: true,
      kind: "ExternalMetricValueList",
      verbs: ["get"],
    },
  ],
};

export interface MetricsApiServer {
  port: number;
  /** New client CA (the ConfigMap changed). */
  reloadClientCa(): void;
  close(): Promise<void>;
}

export async function startMetricsApi(options: MetricsApiOptions): Promise<MetricsApiServer> {
  const secureContext = () => ({
    cert: options.cert,
    key: options.key,
    ca: options.requestHeader().clientCa,
  });
  const server: Server = createServer(
    // Ask for a client certificate, verify it against the request-header CA, but let the handler answer 401
    // itself (rejectUnauthorized would drop the connection without a Status a client can read).
    { ...secureContext(), requestCert: true, rejectUnauthorized: false },
    (request, response) => {
      handle(options, request, response).catch((error: unknown) => {
        options.log("metrics API request failed", { path: request.url, error: String(error) });
        if (!response.headersSent) failure(response, 500, "internal error");
      });
    },
  );
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, resolve);
  });
  const address = server.address();
  return {
    port: typeof address === "object" && address !== null ? address.port : options.port,
    reloadClientCa: () => server.setSecureContext(secureContext()),
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        // The aggregator keeps its connections open: without this, close would wait for them.
        server.closeAllConnections();
      }),
  };
}

async function handle(options: MetricsApiOptions, request: IncomingMessage, response: ServerResponse) {
  const url = new URL(request.url ?? "/", "https://metrics.invalid");
  if (url.pathname === "/healthz" || url.pathname === "/readyz" || url.pathname === "/livez") {
    response.writeHead(200, { "content-type": "text/plain" }).end("ok");
    return;
  }
  const socket = request.socket as TLSSocket;
  const certificate = socket.getPeerCertificate();
  const commonName = typeof certificate?.subject?.CN === "string" ? certificate.subject.CN : undefined;
  const authentication = authenticate(
    options.requestHeader(),
    socket.authorized,
    commonName,
    request.headersDistinct,
  );
  if (!authentication.ok) {
    failure(response, 401, `Unauthorized: ${authentication.reason}`);
    return;
  }
  if (request.method !== "GET") {
    failure(response, 405, `${request.method} is not supported: the external metrics API is read-only`);
    return;
  }
  if (url.pathname === basePath || url.pathname === `${basePath}/`) {
    send(response, 200, discovery);
    return;
  }
  const match = new RegExp(`^${basePath}/namespaces/([^/]+)/([^/]+)$`).exec(url.pathname);
  if (match === null) {
    failure(response, 404, `the server could not find ${url.pathname}`);
    return;
  }
  const [, namespace = "", metric = ""] = match;
  const { user } = authentication;
  if (!(await options.authorize(user, namespace, metric))) {
    failure(
      response,
      403,
      `${metric}.${metricsGroup} is forbidden: User "${user.name}" cannot get resource "${metric}" in API group "${metricsGroup}" in the namespace "${namespace}"`,
    );
    return;
  }
  if (metric !== lagMetricName) {
    failure(response, 404, `no external metric ${metric}: this server serves ${lagMetricName}`);
    return;
  }
  const selector = parseEqualitySelector(url.searchParams.get("labelSelector") ?? "");
  if (!selector.ok) {
    failure(response, 400, selector.message);
    return;
  }
  const answer = await options.lag(namespace, selector.labels);
  if (!answer.ok) {
    failure(response, answer.code, answer.message);
    return;
  }
  send(response, 200, {
    kind: "ExternalMetricValueList",
    apiVersion: `${metricsGroup}/${metricsVersion}`,
    metadata: {},
    items: [
      {
        metricName: lagMetricName,
        metricLabels: answer.labels,
        timestamp: new Date().toISOString(),
        value: String(answer.value),
      },
    ],
  });
}
