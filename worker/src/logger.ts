import winston from "winston";

/**
 * JSON lines on stdout, one object per event; per-message lines carry `correlationId` (the request id).
 * `defaultMeta.service` names another process (the operator uses this logger too).
 */
export function createLogger(level: string, defaultMeta: Record<string, string> = {}): winston.Logger {
  const logger = winston.createLogger({
    level,
    defaultMeta: { service: "kubesentiment-worker", ...defaultMeta },
    format: winston.format.combine(
      // winston formats every entry before its transport drops those below the level: each per-message
      // debug line would cost a timestamp and a JSON serialisation at any level. Drop them first.
      winston.format((info) => (logger.isLevelEnabled(info.level) ? info : false))(),
      winston.format.timestamp(),
      winston.format.errors({ stack: false }),
      winston.format.json(),
    ),
    transports: [new winston.transports.Console()],
  });
  return logger;
}
