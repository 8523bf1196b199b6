import winston from "winston";

/**
 * JSON lines on stdout, one object per event; per-message lines carry `correlationId` (the request id).
 * `defaultMeta.service` names another process (the operator uses this logger too).
 */
export function createLogger(level: string, defaultMeta: Record<string, string> = {}): winston.Logger {
  return winston.createLogger({
    level,
    defaultMeta: { service: "kubesentiment-worker", ...defaultMeta },
    format: winston.format.combine(
      winston.format.timestamp(),
      winston.format.errors({ stack: false }),
      winston.format.json(),
    ),
    transports: [new winston.transports.Console()],
  });
}
