/**
 * The download call: one fragment's messages from the orchestrator on a
 * server stream, pulled as the consumer reads them (grpc-js asks for more
 * only when its small buffer has room), so that a slow disk slows the
 * orchestrator instead of filling memory.
 *
 * @since 0.1.0
 */
import * as grpc from "@grpc/grpc-js"
import { Chunk, Effect, Option, Stream } from "effect"
import type { FragmentRequest, RestoreMessage } from "../../core/Message.js"
import type { DataCallOptions } from "../../transport/OrchestratorTransport.js"
import { DataChannelError, DataChannelTimeout } from "../../transport/OrchestratorTransport.js"
import * as Wire from "../Wire.js"
import type { CurrentClient } from "./channel.js"
import { ignoreErrorEvent, statusOf } from "./channel.js"
import * as IdleTimer from "./idleTimer.js"

/**
 * Opens a download on the current client when the stream is run; the call
 * is cancelled when the consumer stops before its end.
 *
 * @since 0.1.0
 * @category constructors
 */
export const open = (client: CurrentClient) =>
(
  request: FragmentRequest,
  options: DataCallOptions = {}
): Stream.Stream<RestoreMessage, DataChannelError | DataChannelTimeout> =>
  Stream.unwrapScoped(
    Effect.gen(function*() {
      const { state, stream } = yield* Effect.acquireRelease(
        Effect.sync(() => {
          const state = {
            status: undefined as grpc.StatusObject | undefined,
            wake: undefined as (() => void) | undefined
          }
          const wake = () => {
            const pending = state.wake
            state.wake = undefined
            pending?.()
          }
          const stream = client().makeServerStreamRequest(
            Wire.protos().restoreMethod.path,
            Wire.protos().codecs.Metadata.encode,
            Wire.protos().codecs.RestoreData.decode,
            Wire.requestToWire(request),
            new grpc.Metadata()
          )
          // Paused mode: grpc-js asks the server for the next message only when
          // the stream's small buffer has room, that is when the consumer pulls.
          stream.on("readable", wake)
          stream.on("status", (status: grpc.StatusObject) => {
            if (state.status !== undefined) return
            state.status = status
            wake()
          })
          stream.on("error", ignoreErrorEvent)
          return { state, stream }
        }),
        ({ state, stream }) => Effect.sync(() => state.status === undefined ? stream.cancel() : undefined)
      )

      // What the stream's buffer holds, without waiting: some messages, the
      // end, or nothing yet (undefined).
      const take = (): Effect.Effect<Chunk.Chunk<RestoreMessage>, Option.Option<DataChannelError>> | undefined => {
        const received: Array<RestoreMessage> = []
        // `read` gives null once the buffer is empty, whatever its declared type says.
        const next = (): Wire.RestoreData__Output | null => stream.read()
        for (let wire = next(); wire !== null; wire = next()) {
          received.push(Wire.restoreFromWire(wire))
        }
        if (received.length > 0) return Effect.succeed(Chunk.unsafeFromArray(received))
        // An OK status comes only after every message was handed to the
        // stream, so an empty buffer then means the end. (grpc-js delivers a
        // failure at once, dropping what the server sent and nobody read.)
        const status = state.status
        if (status === undefined) return undefined
        return status.code === grpc.status.OK
          ? Effect.fail(Option.none())
          : Effect.fail(Option.some(new DataChannelError(statusOf(status))))
      }

      const timer = yield* IdleTimer.make(options.idleTimeout)
      const waited = Effect.async<Chunk.Chunk<RestoreMessage>, Option.Option<DataChannelError | DataChannelTimeout>>(
        (resume) => {
          const attempt = () => {
            const taken = take()
            if (taken === undefined) {
              state.wake = attempt
            } else {
              timer.end()
              resume(taken)
            }
          }
          timer.begin((after) => {
            state.wake = undefined
            resume(Effect.fail(Option.some(new DataChannelTimeout({ waitingFor: "the orchestrator's next chunk", after }))))
          })
          attempt()
          return Effect.sync(() => {
            state.wake = undefined
            timer.end()
          })
        }
      )
      const pull = Effect.suspend(() => take() ?? waited)

      return Stream.repeatEffectChunkOption(pull)
    })
  )
