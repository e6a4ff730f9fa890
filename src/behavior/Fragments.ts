/**
 * Fragments on the data channel: sending one during a backup (from a file,
 * from bytes, from a byte `Stream` or a command's stdout such as a database
 * dump, with no temporary file), and downloading one during a restore (into
 * a folder, changing nothing there on a failure, or as a byte `Stream`
 * whose last chunk waits until the whole fragment checked out). Checksums
 * are computed as the bytes pass; memory holds a few chunks whatever the
 * fragment's size; every file handle and call is scoped, so an
 * interruption (a cancel) closes them.
 *
 * @since 0.1.0
 */
import type * as Command from "@effect/platform/Command"
import type * as FileSystem from "@effect/platform/FileSystem"
import type { Config, ConfigError, Duration, Effect, Scope, Stream } from "effect"
import type { FragmentInformation } from "../core/Fragment.js"
import type { BackupTarget, DataChannel } from "../internal/fragments/channel.js"
import * as Channel from "../internal/fragments/channel.js"
import type { CustomMetadataFile, DownloadedFragment, DownloadStreamOptions } from "../internal/fragments/download.js"
import * as Download from "../internal/fragments/download.js"
import type { TransferFailureReason } from "../internal/fragments/errors.js"
import { FailedToDownload, FailedToTransferBackup, InvalidDataChannelSettings } from "../internal/fragments/errors.js"
import type { TransferProgress } from "../internal/fragments/progress.js"
import type { DataChannelSettings } from "../internal/fragments/settings.js"
import * as FragmentSettings from "../internal/fragments/settings.js"
import type { BackupFragment, FileSource, SentFragment } from "../internal/fragments/upload.js"
import * as Upload from "../internal/fragments/upload.js"
import type { OrchestratorTransport } from "../transport/OrchestratorTransport.js"
import * as Commands from "./Commands.js"

// The declarations live with the engines that use them
// (`internal/fragments`), so that the internal modules never import this
// one; they are documented here.

// ---------------------------------------------------------------------------
// Sources
// ---------------------------------------------------------------------------

export type {
  /**
   * Where a file of a fragment comes from.
   *
   * @since 0.1.0
   * @category sources
   */
  FileSource,
  /**
   * A fragment to send: its id (unique in the backup; include the pod's host
   * name when several pods back up), version, custom information, backup
   * file and optional custom-metadata file.
   *
   * @since 0.1.0
   * @category models
   */
  BackupFragment
}

/**
 * A file on disk; it travels under its base name and its size is read from
 * the file.
 *
 * @since 0.1.0
 * @category sources
 */
export const fromPath = (path: string): FileSource => ({ _tag: "Path", path })

/**
 * Bytes held in memory (a small custom-metadata file, say), sent under `name`.
 *
 * @since 0.1.0
 * @category sources
 */
export const fromBytes = (name: string, bytes: Uint8Array | string): FileSource => ({
  _tag: "Bytes",
  name,
  bytes: typeof bytes === "string" ? Buffer.from(bytes) : bytes
})

/**
 * A byte stream (a dump piped from a database tool, say), sent under `name`
 * as it is produced, with no temporary file. Give its `size` when known;
 * otherwise the fragment's `sizeInBytes` is sent as `"0"`: the orchestrator
 * uses the size only as a hint.
 *
 * @since 0.1.0
 * @category sources
 */
export const fromStream = <E>(
  name: string,
  stream: Stream.Stream<Uint8Array, E>,
  options: { readonly size?: number } = {}
): FileSource => ({ _tag: "Stream", name, stream, size: options.size })

/**
 * A command's stdout (`pg_dump -Fc`, `tar -c`), sent under `name` as it is
 * produced, with no temporary file; the command runs when the fragment is
 * sent (see `Commands.stdout`). A non-zero exit fails the fragment
 * (`FailedToTransferBackup`, reason `SourceFailed`, `cause` the
 * `CommandFailed`, `detail` with the status and the end of stderr), and the
 * call is cancelled, so the orchestrator keeps no half file; a failure or a
 * cancel of the send stops the process. `size`, when known, is sent as for
 * {@link fromStream}.
 *
 * @since 0.1.0
 * @category sources
 */
export const fromCommand = (
  name: string,
  command: Command.Command,
  options: Commands.CommandOptions & { readonly size?: number } = {}
): FileSource => {
  const { size, ...commandOptions } = options
  return fromStream(name, Commands.stdout(command, commandOptions), size === undefined ? {} : { size })
}

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

export {
  /**
   * The data channel made no progress for the configured time; see
   * `OrchestratorTransport.DataChannelTimeout`.
   *
   * @since 0.1.0
   * @category errors
   */
  DataChannelTimeout
} from "../transport/OrchestratorTransport.js"

export type {
  /**
   * Why a transfer failed, for a caller to branch on (the error's `detail`
   * says it in words):
   *
   * - `RefusedByOrchestrator`: the call ended with a gRPC status other than
   *   OK, in `status`: the orchestrator refused the fragment (`ABORTED`,
   *   `NOT_FOUND`, ...) or the connection was lost (`UNAVAILABLE`).
   * - `ChecksumMismatch`: a downloaded file's MD5 is not the one the
   *   orchestrator sent.
   * - `UnsafeFileName`: a file name that could leave the folder (`..`, a
   *   separator, an absolute path, empty), or a custom-metadata file named
   *   like the backup file, which would overwrite it: compared as a
   *   case-insensitive file system compares names (`A.txt` and `a.txt`, a
   *   composed and a decomposed `é`), on sending and on downloading.
   * - `Timeout`: no progress for the data channel's timeout.
   * - `SourceFailed`: the stream of a `fromStream` source failed (the dump
   *   tool exited, say); the stream's error is the `cause`.
   * - `FileSystem`: a file could not be read, written or renamed (a missing
   *   path, a full disk), or a path is not a file.
   * - `ProtocolViolation`: the restore stream broke the protocol (a chunk for
   *   a file never named, an unknown message, an empty chunk, an early end).
   * - `InvalidFragment`: the fragment to send has an invalid id or an empty
   *   version.
   *
   * @since 0.1.0
   * @category errors
   */
  TransferFailureReason
}

export {
  /**
   * A fragment could not be sent: `reason` says why, `detail` in words. The
   * call was cancelled, so the orchestrator keeps no half fragment.
   *
   * @since 0.1.0
   * @category errors
   */
  FailedToTransferBackup,
  /**
   * A fragment could not be restored: `reason` says why, `detail` in words.
   * Nothing of it is left behind: files written so far are removed, and a
   * file that was already in the folder under the same name is untouched.
   *
   * @since 0.1.0
   * @category errors
   */
  FailedToDownload,
  /**
   * The settings given to {@link makeDataChannel} (or `Agent.start`'s
   * `chunkSize` and `dataChannelTimeout`) cannot be used; `problems` names
   * every bad field and says why.
   *
   * @since 0.1.0
   * @category errors
   */
  InvalidDataChannelSettings
}

// ---------------------------------------------------------------------------
// Settings and progress
// ---------------------------------------------------------------------------

export type {
  /**
   * How the data channel is used: `chunkSize`, bytes of file content per
   * message (512 KiB by default), and `timeout`, how long a transfer may make
   * no progress before it fails (30 s by default).
   *
   * @since 0.1.0
   * @category models
   */
  DataChannelSettings
}

/**
 * The largest chunk: one message must stay under the orchestrator's 4 MiB
 * limit, envelope included.
 *
 * @since 0.1.0
 * @category constants
 */
export const maxChunkSize: number = FragmentSettings.maxChunkSize

/**
 * Reads `AGENT_FRAGMENT_CHUNK_SIZE` (KiB, default 512, at most 4032) and
 * `AGENT_DATA_CHANNEL_TIMEOUT_SECS` (default 30, at least 1), the variables
 * the reference agent reads. A bad value is a `ConfigError` naming the
 * variable and its value.
 *
 * @since 0.1.0
 * @category settings
 */
export const settingsConfig: Config.Config<DataChannelSettings> = FragmentSettings.config

export type {
  /**
   * Where a transfer is: its direction, backup, fragment and file, the bytes
   * done, the bytes in all when known (for files and sized sources; for
   * downloads, the size the orchestrator recorded), and whether the file is
   * done.
   *
   * @since 0.1.0
   * @category models
   */
  TransferProgress
}

export type {
  /**
   * What the data-channel operations need (the agent id, the settings, the
   * transport, the file system, the progress hub, the checksum worker):
   * given by the running agent to each stage's context, or built by hand
   * with {@link makeDataChannel} to use them on their own.
   *
   * @since 0.1.0
   * @category models
   */
  DataChannel,
  /**
   * The backup a transfer belongs to.
   *
   * @since 0.1.0
   * @category models
   */
  BackupTarget
}

/**
 * Builds a data channel from the environment: the transport, the file
 * system, and the settings given or else those of `settingsConfig`. Bad
 * settings given here (a `chunkSize` that is not a whole number from 1 to
 * {@link maxChunkSize}, a `timeout` not above zero) fail with
 * {@link InvalidDataChannelSettings}. Large transfers are hashed on a worker
 * thread that lives no longer than the scope.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeDataChannel: (
  agentId: string,
  settings?: { readonly chunkSize?: number; readonly timeout?: Duration.DurationInput }
) => Effect.Effect<
  DataChannel,
  InvalidDataChannelSettings | ConfigError.ConfigError,
  OrchestratorTransport | FileSystem.FileSystem | Scope.Scope
> = Channel.make


// ---------------------------------------------------------------------------
// Backup
// ---------------------------------------------------------------------------

export type {
  /**
   * What was sent: the fragment's information as the orchestrator recorded
   * it, and each file's name, size and MD5.
   *
   * @since 0.1.0
   * @category models
   */
  SentFragment
}

/**
 * Sends one fragment over a new `backup` call: its metadata, the backup
 * file, then the custom-metadata file if any, each as name, chunks and MD5;
 * then half-closes and waits for the orchestrator's final status. Any
 * failure or interruption cancels the call.
 *
 * @since 0.1.0
 * @category backup
 */
export const sendFragment: (
  channel: DataChannel,
  target: BackupTarget,
  fragment: BackupFragment
) => Effect.Effect<SentFragment, FailedToTransferBackup> = Upload.sendFragment


// ---------------------------------------------------------------------------
// Restore
// ---------------------------------------------------------------------------

export type {
  /**
   * Where a downloaded fragment's files were written: each file's path,
   * size and MD5.
   *
   * @since 0.1.0
   * @category models
   */
  DownloadedFragment,
  /**
   * A fragment's custom-metadata file as a streaming download hands it to
   * `onCustomMetadata`: its name, its bytes and its MD5, which matched.
   *
   * @since 0.1.0
   * @category models
   */
  CustomMetadataFile,
  /**
   * Options of {@link downloadFragmentStream}. `onCustomMetadata` is called
   * once per fragment that checked out, with its custom-metadata file (or
   * `undefined` when the fragment has none), BEFORE the backup file's last
   * chunk is handed on: fail it to refuse the fragment (a version the
   * service cannot take, say), and the consumer never sees a complete file;
   * the stream then fails with that error. The file is held in memory: at
   * most 16 MiB (a larger one fails the download with `FailedToDownload`,
   * reason `InvalidFragment`). Without the option the file is checked and
   * dropped.
   *
   * @since 0.1.0
   * @category models
   */
  DownloadStreamOptions
}

/**
 * Downloads a fragment into `folder` (created if missing). Each file is
 * written under a temporary name in the folder, and moved into place once
 * the whole fragment has arrived with matching checksums.
 *
 * On any failure or interruption, nothing that was in the folder is changed
 * and nothing of the fragment is left: before anything is moved, every
 * final path is checked (a folder where a file goes fails the download);
 * files already there are moved aside and removed only once every new file
 * is in place, and each step is undone, latest first, if a later one fails.
 * A custom-metadata file named like the backup file, compared as a
 * case-insensitive file system compares names (`A.txt` and `a.txt`), is
 * refused (reason `UnsafeFileName`).
 *
 * @since 0.1.0
 * @category restore
 */
export const downloadFragment: (
  channel: DataChannel,
  target: BackupTarget,
  fragment: FragmentInformation,
  folder: string
) => Effect.Effect<DownloadedFragment, FailedToDownload> = Download.downloadFragment

/**
 * Downloads a fragment's backup file as a byte stream, to pipe into a
 * restore tool with no temporary file.
 *
 * Verified streaming: the backup file's last chunk, and the stream's end,
 * are handed on only once the WHOLE fragment checked out: the backup file's
 * checksum matched, the custom-metadata file's checksum matched, the
 * orchestrator's stream ended as the protocol says, and `onCustomMetadata`
 * (see {@link DownloadStreamOptions}) succeeded. Until then one chunk is
 * held back (memory: one chunk). A consumer that acts as soon as it holds a
 * complete file, without waiting for the end of its input (`pg_restore`
 * with a complete archive), therefore never acts on unverified bytes: on
 * any failure the stream fails with `FailedToDownload` (or with the
 * callback's error) before the file is complete. No reference agent gives
 * this guarantee.
 *
 * @since 0.1.0
 * @category restore
 */
export const downloadFragmentStream: <E = never, R = never>(
  channel: DataChannel,
  target: BackupTarget,
  fragment: FragmentInformation,
  options?: DownloadStreamOptions<E, R>
) => Stream.Stream<Uint8Array, FailedToDownload | E, R> = Download.downloadFragmentStream
