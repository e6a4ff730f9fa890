/**
 * What an app's tests write with `bro-agent/orchestrator`, type-checked
 * against the installed package: the development orchestrator and its REST
 * API as Layers, and a backup whose records, events and errors are named by
 * their public types.
 */
import { formatEvent, Orchestrator, OrchestratorHttp, OrchestratorModel } from "bro-agent/orchestrator"
import { Effect, Layer, Stream } from "effect"

/** The orchestrator on free ports, with its REST API. */
export const OrchestratorLive = (
  storage: string
): Layer.Layer<
  Orchestrator.Orchestrator | OrchestratorHttp.OrchestratorHttp,
  Orchestrator.OrchestratorStartError | OrchestratorHttp.HttpStartError
> => OrchestratorHttp.layer({ port: 0 }).pipe(Layer.provideMerge(Orchestrator.layer({ port: 0, storage })))

/** Backs up, and answers the stored backup, or why there is none. */
export const backUp = (
  backupName: string
): Effect.Effect<
  OrchestratorModel.BackupRecord,
  OrchestratorModel.ApiError | OrchestratorModel.ActionRecord,
  Orchestrator.Orchestrator
> =>
  Effect.gen(function*() {
    const orchestrator = yield* Orchestrator.Orchestrator
    const started = yield* orchestrator.startAction("DEFAULT", "CREATE_BACKUP", backupName)
    const finished: OrchestratorModel.ActionRecord = yield* orchestrator.awaitAction(started.id)
    if (finished.result !== "SUCCESS") return yield* Effect.fail(finished)
    return yield* orchestrator.backup("DEFAULT", backupName)
  }).pipe(
    Effect.catchTag("BackupNotFound", (error) =>
      Effect.fail(new OrchestratorModel.InvalidActionRequest({ reason: error.message })))
  )

/** What happens, one readable line each. */
export const eventLines: Stream.Stream<string, never, Orchestrator.Orchestrator> = Stream.unwrap(
  Effect.map(Orchestrator.Orchestrator, (orchestrator) =>
    orchestrator.events.pipe(
      Stream.filter((event: OrchestratorModel.OrchestratorEvent) => event._tag !== "FragmentStored"),
      Stream.map(formatEvent)
    ))
)
