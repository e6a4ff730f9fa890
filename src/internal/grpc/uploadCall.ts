/**
 * The upload call: one fragment's messages sent to the orchestrator on a
 * client stream, with at most {@link maxUploadMessagesInFlight} handed to
 * grpc-js at a time. It fails fast with `UNAVAILABLE` when the connection is
 * down, and an upload that is not finished is cancelled, never half-closed
 * (a half-close is a complete fragment for BRO).
 *
 * @since 0.1.0
 */
import * as grpc from "@grpc/grpc-js"
import type { Scope } from "effect"
import { Deferred, Effect, Exit } from "effect"
import type { BackupMessage } from "../../core/Message.js"
import type { DataCallOptions, FragmentUpload } from "../../transport/OrchestratorTransport.js"
import { DataChannelError, DataChannelTimeout } from "../../transport/OrchestratorTransport.js"
import * as Wire from "../Wire.js"
import type { CurrentClient } from "./channel.js"
import { ignoreErrorEvent, statusOf } from "./channel.js"
import * as IdleTimer from "./idleTimer.js"

interface UploadState {
  outcome: grpc.StatusObject | undefined
  finishing: boolean
  /** Messages handed to grpc-js whose write has not completed yet. */
  inFlight: number
  wake: (() => void) | undefined
}

/**
 * See `GrpcTransport.maxUploadMessagesInFlight`.
 *
 * @since 0.1.0
 * @category constants
 */
export const maxUploadMessagesInFlight = 4

// Cancelling a call whose writer is idle makes Node's HTTP/2 end the stream
// (END_STREAM) before resetting it, so an orchestrator may see a half-close,
// which BRO records as a complete fragment. A METADATA after the start is a
// violation BRO aborts the fragment on, and it arrives before the end: sent
// just before cancelling, it makes the fragment fail whatever the orchestrator
// sees next.
const abortMarker = (): Buffer => Wire.protos().codecs.BackupData.encode(Wire.backupToWire({
  _tag: "Metadata",
  metadata: {
    agentId: "",
    backupName: "",
    backupType: "",
    fragment: Wire.fragmentFromWire(null)
  }
}))

// Upload messages are encoded when `write` is called, so that grpc-js queues
// bytes that hold no reference to the caller's chunk (which the caller may
// then reuse); grpc-js is given them as they are.
const encoded = (bytes: Buffer): Buffer => bytes

const uploadFailure = (status: grpc.StatusObject): DataChannelError =>
  status.code === grpc.status.OK
    ? new DataChannelError({ status: "OK", details: "The call ended before the upload was finished" })
    : new DataChannelError(statusOf(status))

/**
 * Opens an upload on the current client; closing the scope before `finish`
 * cancels it.
 *
 * @since 0.1.0
 * @category constructors
 */
export const open = (client: CurrentClient) =>
(options: DataCallOptions = {}): Effect.Effect<FragmentUpload, DataChannelError, Scope.Scope> =>
  Effect.gen(function*() {
    const outcome = yield* Deferred.make<grpc.StatusObject>()
    const { state, stream } = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const state: UploadState = { outcome: undefined, finishing: false, inFlight: 0, wake: undefined }
        const stream = client().makeClientStreamRequest(
          Wire.protos().backupMethod.path,
          encoded,
          Wire.protos().backupMethod.responseDeserialize,
          new grpc.Metadata(),
          {},
          (error) => {
            // `error` is null exactly when the call ended with OK and its `Empty` answer.
            const status: grpc.StatusObject = error === null
              ? { code: grpc.status.OK, details: "", metadata: new grpc.Metadata() }
              : { code: error.code, details: error.details, metadata: error.metadata }
            state.outcome = status
            state.wake?.()
            Deferred.unsafeDone(outcome, Exit.succeed(status))
          }
        )
        stream.on("error", ignoreErrorEvent)
        return { state, stream }
      }),
      // Never half-close here: a half-closed upload is a complete fragment for BRO.
      ({ state, stream }) =>
        Effect.sync(() => {
          if (state.outcome !== undefined) return
          if (!state.finishing) stream.write(abortMarker())
          stream.cancel()
        })
    )

    const ended = Effect.flatMap(Deferred.await(outcome), (status) => Effect.fail(uploadFailure(status)))

    // Waits until fewer than maxUploadMessagesInFlight writes are pending,
    // or the call ended, or the idle timeout passed.
    const timer = yield* IdleTimer.make(options.idleTimeout)
    const room = Effect.async<void, DataChannelTimeout>((resume) => {
      const check = () => {
        if (state.inFlight < maxUploadMessagesInFlight || state.outcome !== undefined) {
          state.wake = undefined
          timer.end()
          resume(Effect.void)
        }
      }
      state.wake = check
      timer.begin((after) => {
        state.wake = undefined
        resume(Effect.fail(new DataChannelTimeout({ waitingFor: "the orchestrator to read the chunks already sent", after })))
      })
      check()
      return Effect.sync(() => {
        state.wake = undefined
        timer.end()
      })
    })

    const written = () => {
      state.inFlight--
      state.wake?.()
    }

    const write = (message: BackupMessage): Effect.Effect<void, DataChannelError | DataChannelTimeout> =>
      Effect.suspend(() => {
        if (state.outcome !== undefined) return Effect.fail(uploadFailure(state.outcome))
        if (state.finishing) return Effect.dieMessage("bro-agent: an upload was written after its finish")
        state.inFlight++
        stream.write(Wire.protos().codecs.BackupData.encode(Wire.backupToWire(message)), written)
        return state.inFlight < maxUploadMessagesInFlight
          ? Effect.void
          : Effect.zipRight(room, Effect.suspend(() => state.outcome === undefined ? Effect.void : ended))
      })

    const finish: Effect.Effect<void, DataChannelError> = Effect.suspend(() => {
      if (state.outcome === undefined && !state.finishing) {
        state.finishing = true
        stream.end()
      }
      return Effect.flatMap(Deferred.await(outcome), (status) =>
        status.code === grpc.status.OK ? Effect.void : Effect.fail(new DataChannelError(statusOf(status))))
    })

    return { write, finish }
  })
