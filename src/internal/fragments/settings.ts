/**
 * The data channel's settings, checked one way: the Schema pieces that
 * refuse a bad chunk size or timeout given in code, and the environment
 * variables decoded from their text, a bad one named with its value.
 *
 * @since 0.1.0
 */
import { Config, Duration, Schema } from "effect"
import { decodeOptions, PositiveDuration, variableOr, WholeNumberText } from "../Settings.js"
import { InvalidDataChannelSettings } from "./errors.js"

/**
 * See `Fragments.DataChannelSettings`.
 *
 * @since 0.1.0
 * @category models
 */
export interface DataChannelSettings {
  /** Bytes of file content per message (512 KiB by default). */
  readonly chunkSize: number
  /** How long a transfer may make no progress before it fails (30 s by default). */
  readonly timeout: Duration.Duration
}

/**
 * See `Fragments.maxChunkSize`.
 *
 * @since 0.1.0
 * @category constants
 */
export const maxChunkSize: number = 4 * 1024 * 1024 - 64 * 1024

/**
 * A chunk size in bytes.
 *
 * @since 0.1.0
 * @category schemas
 */
export const ChunkSize = Schema.Number.pipe(
  Schema.filter((size) =>
    (Number.isInteger(size) && size >= 1 && size <= maxChunkSize) ||
    `must be a whole number of bytes from 1 to ${maxChunkSize} (${maxChunkSize / 1024} KiB), not ${size}`
  )
)

/**
 * The settings given in code, each optional: what is missing is read from
 * the environment.
 *
 * @since 0.1.0
 * @category schemas
 */
export const GivenSettings = Schema.Struct({
  chunkSize: Schema.optional(ChunkSize),
  timeout: Schema.optional(PositiveDuration)
})

/**
 * Checks the settings given in code, every bad field named.
 *
 * @since 0.1.0
 * @category validation
 */
export const validate = decodeOptions(
  GivenSettings,
  "settings",
  (problems) => new InvalidDataChannelSettings({ problems })
)

// The environment gives the chunk size in KiB, as the reference agent reads it.
const ChunkSizeKiBText = Schema.compose(
  WholeNumberText,
  Schema.Number.pipe(
    Schema.filter((kib) => (kib >= 1 && kib * 1024 <= maxChunkSize) || `must be between 1 and ${maxChunkSize / 1024} KiB`)
  )
)

const TimeoutSecondsText = Schema.compose(
  WholeNumberText,
  Schema.Number.pipe(Schema.filter((seconds) => seconds >= 1 || "must be at least 1 second"))
)

/**
 * See `Fragments.settingsConfig`.
 *
 * @since 0.1.0
 * @category configuration
 */
export const config: Config.Config<DataChannelSettings> = Config.all({
  chunkSizeKiB: variableOr("AGENT_FRAGMENT_CHUNK_SIZE", ChunkSizeKiBText, 512),
  timeoutSeconds: variableOr("AGENT_DATA_CHANNEL_TIMEOUT_SECS", TimeoutSecondsText, 30)
}).pipe(
  Config.map(({ chunkSizeKiB, timeoutSeconds }) => ({
    chunkSize: chunkSizeKiB * 1024,
    timeout: Duration.seconds(timeoutSeconds)
  }))
)
