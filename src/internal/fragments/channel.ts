/**
 * The data channel both engines work on: the transport, the file system,
 * the checked settings, the progress hub and the checksum worker; and the
 * timeout a transfer's waits share.
 *
 * @since 0.1.0
 */
import * as FileSystem from "@effect/platform/FileSystem"
import type { ConfigError, Scope } from "effect"
import { Duration, Effect, PubSub } from "effect"
import { DataChannelTimeout, OrchestratorTransport } from "../../transport/OrchestratorTransport.js"
import * as ChecksumWorker from "../ChecksumWorker.js"
import type { InvalidDataChannelSettings } from "./errors.js"
import type { TransferProgress } from "./progress.js"
import type { DataChannelSettings } from "./settings.js"
import * as Settings from "./settings.js"

/**
 * See `Fragments.DataChannel`.
 *
 * @since 0.1.0
 * @category models
 */
export interface DataChannel {
  readonly agentId: string
  readonly settings: DataChannelSettings
  readonly transport: OrchestratorTransport["Type"]
  readonly fileSystem: FileSystem.FileSystem
  readonly progress: PubSub.PubSub<TransferProgress>
  /** Where the transfers' MD5 checksums are computed: see `ChecksumWorker`. */
  readonly checksums: ChecksumWorker.Checksums
}

/**
 * See `Fragments.BackupTarget`.
 *
 * @since 0.1.0
 * @category models
 */
export interface BackupTarget {
  readonly backupName: string
  readonly backupType: string
}

/**
 * See `Fragments.makeDataChannel`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  agentId: string,
  settings: { readonly chunkSize?: number; readonly timeout?: Duration.DurationInput } = {}
): Effect.Effect<
  DataChannel,
  InvalidDataChannelSettings | ConfigError.ConfigError,
  OrchestratorTransport | FileSystem.FileSystem | Scope.Scope
> =>
  Effect.gen(function*() {
    const given = yield* Settings.validate(settings)
    const fromEnvironment = yield* Settings.config
    return {
      agentId,
      settings: {
        chunkSize: given.chunkSize ?? fromEnvironment.chunkSize,
        timeout: given.timeout === undefined ? fromEnvironment.timeout : Duration.decode(given.timeout)
      },
      transport: yield* OrchestratorTransport,
      fileSystem: yield* FileSystem.FileSystem,
      progress: yield* PubSub.sliding<TransferProgress>(4096),
      checksums: yield* ChecksumWorker.make
    }
  })

/**
 * Fails with `DataChannelTimeout` when `effect` takes longer than the
 * channel's timeout; `waitingFor` says for what, in the error.
 *
 * @since 0.1.0
 */
export const withTimeout = (channel: DataChannel, waitingFor: string) =>
<A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | DataChannelTimeout, R> =>
  Effect.timeoutFail(effect, {
    duration: channel.settings.timeout,
    onTimeout: () => new DataChannelTimeout({ waitingFor, after: channel.settings.timeout })
  })
