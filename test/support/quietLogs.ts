// Keeps the test output readable: the Effect log lines (logfmt, as the
// default logger writes them) below TEST_LOG_LEVEL are dropped, so that a
// run shows only errors unless asked for more (`TEST_LOG_LEVEL=Info npx vitest
// run`). Only the console is filtered: a test that captures logs with its own
// Logger sees every line, at whatever level its agent logs.
const levels = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"] as const

const thresholdOf = (setting: string | undefined): number => {
  switch ((setting ?? "Error").toUpperCase()) {
    case "ALL":
    case "TRACE":
      return 0
    case "DEBUG":
      return 1
    case "INFO":
      return 2
    case "WARN":
    case "WARNING":
      return 3
    case "ERROR":
      return 4
    case "FATAL":
      return 5
    default:
      return 6
  }
}

/** vitest's `onConsoleLog`: false drops the line. */
export const quietLog = (log: string): boolean | void => {
  const level = /(?:^|\s)level=([A-Z]+)\s/.exec(log)?.[1]
  if (level === undefined) return
  const rank = levels.indexOf(level as typeof levels[number])
  if (rank >= 0 && rank < thresholdOf(process.env["TEST_LOG_LEVEL"])) return false
}
