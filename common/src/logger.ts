// The one log format of both images: JSON lines on stdout, one object per event, naming the process that wrote
// it (`service`), so a cluster's log collector can tell the operator's lines from the workers'.
import winston from "winston";

/** The levels either process accepts (LOG_LEVEL), most severe first. */
export const logLevels = ["error", "warn", "info", "debug"] as const;
export type LogLevel = (typeof logLevels)[number];

/** Per-message lines carry `correlationId` (the request id); `defaultMeta` is added to every line. */
export function createLogger(
  service: string,
  level: string,
  defaultMeta: Record<string, string> = {},
): winston.Logger {
  const logger = winston.createLogger({
    level,
    defaultMeta: { service, ...defaultMeta },
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
