// A raw download of one fragment, for the issue-18 tests that play the agent.
import type * as grpc from "@grpc/grpc-js"
import { Deferred, Effect, Exit } from "effect"
import type { RestoreMessage } from "../../src/core/Message.js"
import * as Wire from "../../src/internal/Wire.js"
import type { FragmentSpec } from "../support/rawAgent.js"
import { metadataOf } from "../support/rawAgent.js"

/** Starts downloading `spec`'s fragment on `client`; `done` once its call ended; cancelled with the scope. */
export const startDownload = (client: grpc.Client, spec: FragmentSpec) =>
  Effect.gen(function*() {
    const ended = yield* Deferred.make<number>()
    const messages: Array<RestoreMessage> = []
    const metadata = metadataOf(spec)
    if (metadata._tag !== "Metadata") return yield* Effect.dieMessage("metadataOf made no METADATA")
    const protos = Wire.protos()
    yield* Effect.acquireRelease(
      Effect.sync(() => {
        const stream = client.makeServerStreamRequest(
          protos.restoreMethod.path,
          protos.codecs.Metadata.encode,
          protos.codecs.RestoreData.decode,
          Wire.requestToWire(metadata.metadata)
        )
        stream.on("data", (wire: Wire.RestoreData__Output) => void messages.push(Wire.restoreFromWire(wire)))
        stream.on("status", (status: grpc.StatusObject) => Deferred.unsafeDone(ended, Exit.succeed(status.code)))
        stream.on("error", () => {})
        return stream
      }),
      (stream) => Effect.sync(() => stream.cancel())
    )
    return { messages, done: Deferred.await(ended) }
  })
